// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package vxlan_test

import (
	"net"
	"testing"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/vxlan"
)

func TestNewAndAccessors(t *testing.T) {
	raw := vxlan.New(net.ParseIP("192.0.2.1"))
	if raw.GetCls() != "REMOTE" || raw.GetType() != "VXLAN" || raw.GetParameters()["src_ip"] != "192.0.2.1" {
		t.Fatalf("New = %v", raw)
	}
	v := vxlan.ToMechanism(raw)
	v.SetDstIP(net.ParseIP("2001:db8::2"))
	v.SetSrcPort(4789)
	v.SetDstPort(4790)
	v.SetMTU(1450)
	if err := v.SetVNI(vxlan.MaxVNI); err != nil {
		t.Fatal(err)
	}
	if err := v.SetVNI(vxlan.MaxVNI + 1); err == nil {
		t.Error("SetVNI above 24 bits must fail")
	}
	want := map[string]string{"src_ip": "192.0.2.1", "dst_ip": "2001:db8::2", "src_port": "4789", "dst_port": "4790", "MTU": "1450", "vni": "16777215"}
	for k, val := range want {
		if raw.Parameters[k] != val {
			t.Errorf("%s = %q, want %q", k, raw.Parameters[k], val)
		}
	}
	if !v.SrcIP().Equal(net.ParseIP("192.0.2.1")) || !v.DstIP().Equal(net.ParseIP("2001:db8::2")) {
		t.Errorf("IPs = %v, %v", v.SrcIP(), v.DstIP())
	}
	if p, err := v.SrcPort(); p != 4789 || err != nil {
		t.Errorf("SrcPort = %d, %v", p, err)
	}
	if p, err := v.DstPort(); p != 4790 || err != nil {
		t.Errorf("DstPort = %d, %v", p, err)
	}
	if mtu, err := v.MTU(); mtu != 1450 || err != nil {
		t.Errorf("MTU = %d, %v", mtu, err)
	}
	if vni, err := v.VNI(); vni != vxlan.MaxVNI || err != nil {
		t.Errorf("VNI = %d, %v", vni, err)
	}
	raw.Parameters["vni"] = "16777216"
	if _, err := v.VNI(); err == nil {
		t.Error("a 25-bit VNI on the wire must be an error")
	}
	delete(raw.Parameters, "vni")
	if vni, err := v.VNI(); vni != 0 || err != nil {
		t.Errorf("absent VNI = %d, %v; want 0, nil", vni, err)
	}
	if vxlan.ToMechanism(&networkservice.Mechanism{Type: "KERNEL"}) != nil {
		t.Error("ToMechanism must return nil for other types")
	}
}

func TestEvenVNI(t *testing.T) {
	for _, tc := range []struct {
		desc   string
		params map[string]string
		even   bool
	}{
		{"lower src", map[string]string{"src_ip": "172.18.0.1", "dst_ip": "172.18.0.2"}, true},
		{"higher src", map[string]string{"src_ip": "172.18.0.2", "dst_ip": "172.18.0.1"}, false},
		{"equal", map[string]string{"src_ip": "10.0.0.1", "dst_ip": "10.0.0.1"}, true},
		{"ipv6 lower src", map[string]string{"src_ip": "fd00::1", "dst_ip": "fd00::2"}, true},
		{"ipv6 higher src", map[string]string{"src_ip": "fd00::2", "dst_ip": "fd00::1"}, false},
		{"original addresses win", map[string]string{
			"orig_src_ip": "172.28.0.1", "orig_dst_ip": "172.28.0.2", "src_ip": "172.18.0.2", "dst_ip": "172.18.0.1",
		}, true},
		{"original addresses win (odd)", map[string]string{
			"orig_src_ip": "172.28.0.2", "orig_dst_ip": "172.28.0.1", "src_ip": "172.18.0.1", "dst_ip": "172.18.0.2",
		}, false},
		{"only orig src present", map[string]string{"orig_src_ip": "172.28.0.9", "src_ip": "172.18.0.1", "dst_ip": "172.18.0.5"}, false},
		{"no src", map[string]string{"dst_ip": "172.18.0.1"}, true},
		{"no dst", map[string]string{"src_ip": "172.18.0.1"}, false},
		{"nothing", map[string]string{}, true},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			v := vxlan.ToMechanism(&networkservice.Mechanism{Type: "VXLAN", Parameters: tc.params})
			if got := v.EvenVNI(); got != tc.even {
				t.Fatalf("EvenVNI = %v, want %v", got, tc.even)
			}
			if !v.ValidVNIParity(2) == tc.even || v.ValidVNIParity(3) == tc.even {
				t.Fatalf("ValidVNIParity disagrees with EvenVNI=%v", tc.even)
			}
		})
	}
}

// The two forwarders see the pair from opposite ends, so they must always
// get opposite parities unless the addresses are equal.
func TestEvenVNIIsAntisymmetric(t *testing.T) {
	ips := []string{"10.0.0.1", "10.0.0.2", "192.168.1.1", "fd00::1", "fd00::2", "::ffff:10.0.0.3"}
	for _, a := range ips {
		for _, b := range ips {
			ab := vxlan.EvenVNI(net.ParseIP(a), net.ParseIP(b))
			ba := vxlan.EvenVNI(net.ParseIP(b), net.ParseIP(a))
			if a != b && ab == ba {
				t.Errorf("EvenVNI(%s,%s) = EvenVNI(%s,%s) = %v", a, b, b, a, ab)
			}
		}
	}
}

func FuzzVXLANParams(f *testing.F) {
	f.Add("10.0.0.1", "10.0.0.2", "100", "4789")
	f.Add("", "::1", "-1", "99999")
	f.Fuzz(func(t *testing.T, src, dst, vni, port string) {
		v := vxlan.ToMechanism(&networkservice.Mechanism{Type: "VXLAN", Parameters: map[string]string{
			"src_ip": src, "dst_ip": dst, "vni": vni, "src_port": port, "orig_src_ip": dst,
		}})
		if n, err := v.VNI(); err == nil && n > vxlan.MaxVNI {
			t.Fatalf("VNI %d accepted", n)
		}
		_, _ = v.SrcPort()
		v.EvenVNI()
	})
}
