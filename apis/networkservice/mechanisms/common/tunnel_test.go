// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package common_test

import (
	"net"
	"testing"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/common"
)

func TestTunnel(t *testing.T) {
	raw := &networkservice.Mechanism{Type: "X"}
	tun := common.NewTunnel(raw)
	tun.SetSrcIP(net.ParseIP("10.0.0.1"))
	tun.SetDstIP(net.ParseIP("10.0.0.2"))
	tun.SetSrcOriginalIP(net.ParseIP("192.0.2.1"))
	tun.SetDstOriginalIP(net.ParseIP("192.0.2.2"))
	tun.SetSrcPort(1)
	tun.SetDstPort(65535)
	tun.SetMTU(9000)
	want := map[string]string{
		"src_ip": "10.0.0.1", "dst_ip": "10.0.0.2", "orig_src_ip": "192.0.2.1", "orig_dst_ip": "192.0.2.2",
		"src_port": "1", "dst_port": "65535", "MTU": "9000",
	}
	if len(raw.Parameters) != len(want) {
		t.Errorf("parameters = %v", raw.Parameters)
	}
	for k, v := range want {
		if raw.Parameters[k] != v {
			t.Errorf("%s = %q, want %q", k, raw.Parameters[k], v)
		}
	}
	if !tun.SrcOriginalIP().Equal(net.ParseIP("192.0.2.1")) || !tun.DstOriginalIP().Equal(net.ParseIP("192.0.2.2")) {
		t.Error("original IPs do not read back")
	}
	raw.Parameters["src_port"] = "65536"
	if _, err := tun.SrcPort(); err == nil {
		t.Error("port 65536 must be an error")
	}
	raw.Parameters["MTU"] = "-5"
	if _, err := tun.MTU(); err == nil {
		t.Error("negative MTU must be an error")
	}
	raw.Parameters["dst_ip"] = "not-an-ip"
	if tun.DstIP() != nil {
		t.Error("a malformed address must read as nil")
	}
	tun.SetSrcIP(nil)
	if _, ok := raw.Parameters["src_ip"]; ok {
		t.Error("SetSrcIP(nil) must remove the key")
	}
	if tun.Mechanism() != raw {
		t.Error("Mechanism must return the wrapped mechanism")
	}
}
