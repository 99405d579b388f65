// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package wireguard_test

import (
	"encoding/hex"
	"testing"

	apiwg "github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/wireguard"
	"github.com/nsmesh/nsmesh/sdk/networkservice/mechanisms/wireguard"
)

func TestParsePortRange(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    wireguard.PortRange
		wantErr bool
	}{
		{in: "51820-52819", want: wireguard.PortRange{First: 51820, Last: 52819}},
		{in: " 51820 - 51820 ", want: wireguard.PortRange{First: 51820, Last: 51820}},
		{in: "4000", want: wireguard.PortRange{First: 4000, Last: 4000}},
		{in: "1-65535", want: wireguard.PortRange{First: 1, Last: 65535}},
		{in: "", wantErr: true},
		{in: "0-10", wantErr: true},
		{in: "10-9", wantErr: true},
		{in: "10-", wantErr: true},
		{in: "-10", wantErr: true},
		{in: "1-65536", wantErr: true},
		{in: "a-b", wantErr: true},
		{in: "1-2-3", wantErr: true},
	} {
		got, err := wireguard.ParsePortRange(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParsePortRange(%q) = %v, %v; want %v (error %v)", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
	if s := (wireguard.PortRange{First: 5, Last: 9}).String(); s != "5-9" {
		t.Errorf("String = %q", s)
	}
}

func FuzzParsePortRange(f *testing.F) {
	for _, s := range []string{"51820-52819", "1", "0", "65535-1", " 7 - 8 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := wireguard.ParsePortRange(s)
		if err != nil {
			return
		}
		if r.First == 0 || r.Last < r.First || r.Size() < 1 {
			t.Fatalf("ParsePortRange(%q) accepted invalid %+v", s, r)
		}
		again, err := wireguard.ParsePortRange(r.String())
		if err != nil || again != r {
			t.Fatalf("%q: String %q parses back as %v, %v", s, r.String(), again, err)
		}
	})
}

// TestPublicKeyVector checks the key derivation against RFC 7748 section 6.1.
func TestPublicKeyVector(t *testing.T) {
	var priv, want apiwg.Key
	mustHex(t, priv[:], "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
	mustHex(t, want[:], "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
	got, err := wireguard.PublicKey(priv)
	if err != nil || got != want {
		t.Fatalf("PublicKey = %x, %v; want %x", got, err, want)
	}
}

func TestGenerateKey(t *testing.T) {
	seen := map[apiwg.Key]bool{}
	for range 20 {
		priv, pub, err := wireguard.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		if priv[0]&7 != 0 || priv[31]&128 != 0 || priv[31]&64 == 0 {
			t.Fatalf("private key %x is not clamped", priv)
		}
		if derived, _ := wireguard.PublicKey(priv); derived != pub {
			t.Fatalf("public key %x does not belong to %x", pub, priv)
		}
		if seen[pub] {
			t.Fatal("the same key twice")
		}
		seen[pub] = true
	}
}

func TestNewAllocatorRejectsBadRange(t *testing.T) {
	if _, err := wireguard.NewAllocator(wireguard.PortRange{First: 10, Last: 9}); err == nil {
		t.Error("empty range accepted")
	}
	if _, err := wireguard.NewAllocator(wireguard.PortRange{}); err == nil {
		t.Error("port 0 accepted")
	}
}

func mustHex(t *testing.T, dst []byte, s string) {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(dst) {
		t.Fatalf("bad hex %q", s)
	}
	copy(dst, b)
}
