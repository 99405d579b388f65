// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package wireguard_test

import (
	"net"
	"strings"
	"testing"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/wireguard"
)

func key(b byte) wireguard.Key {
	var k wireguard.Key
	for i := range k {
		k[i] = b + byte(i)
	}
	return k
}

func TestNewAndKeys(t *testing.T) {
	raw := wireguard.New(net.ParseIP("192.0.2.1"), key(1))
	if raw.GetCls() != "REMOTE" || raw.GetType() != "WIREGUARD" || raw.GetParameters()["src_ip"] != "192.0.2.1" ||
		raw.GetParameters()["src_public_key"] != key(1).String() {
		t.Fatalf("New = %v", raw)
	}
	w := wireguard.ToMechanism(raw)
	w.SetDstPublicKey(key(100))
	w.SetDstPort(51820)
	if k, err := w.SrcPublicKey(); err != nil || k != key(1) {
		t.Errorf("SrcPublicKey = %v, %v", k, err)
	}
	if k, err := w.DstPublicKey(); err != nil || k != key(100) {
		t.Errorf("DstPublicKey = %v, %v", k, err)
	}
	if p, err := w.DstPort(); p != 51820 || err != nil {
		t.Errorf("DstPort = %d, %v", p, err)
	}
	delete(raw.Parameters, "dst_public_key")
	if _, err := w.DstPublicKey(); err == nil {
		t.Error("an absent key must be an error")
	}
	if wireguard.ToMechanism(&networkservice.Mechanism{Type: "VXLAN"}) != nil {
		t.Error("ToMechanism must return nil for other types")
	}
}

func TestParseKey(t *testing.T) {
	good := key(7).String()
	if len(good) != 44 || !strings.HasSuffix(good, "=") {
		t.Fatalf("key text %q is not 44 chars of standard base64", good)
	}
	if k, err := wireguard.ParseKey(good); err != nil || k != key(7) {
		t.Errorf("ParseKey(%q) = %v, %v", good, k, err)
	}
	for _, bad := range []string{"", "AAAA", good[:43], good + "A", strings.ReplaceAll(good, "/", "_"), "!" + good[1:]} {
		if bad == good {
			continue
		}
		if _, err := wireguard.ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) accepted", bad)
		}
	}
}

func FuzzParseKey(f *testing.F) {
	f.Add(key(0).String())
	f.Add("AAAA")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := wireguard.ParseKey(s)
		if err != nil {
			return
		}
		if k.String() != s {
			t.Fatalf("ParseKey(%q) renders back as %q", s, k.String())
		}
	})
}
