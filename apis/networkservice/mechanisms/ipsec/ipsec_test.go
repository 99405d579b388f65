// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package ipsec_test

import (
	"net"
	"testing"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/ipsec"
)

func TestIPsec(t *testing.T) {
	raw := ipsec.New(net.ParseIP("2001:db8::1"))
	if raw.GetCls() != "REMOTE" || raw.GetType() != "IPSEC" || raw.GetParameters()["src_ip"] != "2001:db8::1" {
		t.Fatalf("New = %v", raw)
	}
	m := ipsec.ToMechanism(raw)
	m.SetSrcPublicKey("src-key")
	m.SetDstPublicKey("dst-key")
	m.SetDstIP(net.ParseIP("2001:db8::2"))
	if raw.Parameters["src_public_key"] != "src-key" || raw.Parameters["dst_public_key"] != "dst-key" ||
		m.SrcPublicKey() != "src-key" || m.DstPublicKey() != "dst-key" || !m.DstIP().Equal(net.ParseIP("2001:db8::2")) {
		t.Errorf("parameters = %v", raw.Parameters)
	}
	if ipsec.ToMechanism(&networkservice.Mechanism{Type: "WIREGUARD"}) != nil {
		t.Error("ToMechanism must return nil for other types")
	}
}
