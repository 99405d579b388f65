// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package params_test

import (
	"net"
	"testing"

	"go.uber.org/goleak"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/internal/params"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestUint(t *testing.T) {
	for _, tc := range []struct {
		value   string
		present bool
		bits    int
		want    uint64
		wantErr bool
	}{
		{present: false, bits: 16, want: 0},
		{value: "", present: true, bits: 16, want: 0},
		{value: "4789", present: true, bits: 16, want: 4789},
		{value: "65535", present: true, bits: 16, want: 65535},
		{value: "65536", present: true, bits: 16, wantErr: true},
		{value: "16777215", present: true, bits: 24, want: 16777215},
		{value: "16777216", present: true, bits: 24, wantErr: true},
		{value: "-1", present: true, bits: 32, wantErr: true},
		{value: " 1", present: true, bits: 32, wantErr: true},
		{value: "0x10", present: true, bits: 32, wantErr: true},
	} {
		m := &networkservice.Mechanism{Type: "T", Parameters: map[string]string{}}
		if tc.present {
			m.Parameters["k"] = tc.value
		}
		got, err := params.Uint(m, "k", tc.bits)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("Uint(%q, %d bits) = %d, %v; want %d, error %v", tc.value, tc.bits, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestBool(t *testing.T) {
	for value, want := range map[string]bool{"true": true, "false": false, "": false, "1": true} {
		m := &networkservice.Mechanism{Parameters: map[string]string{"k": value}}
		if got, err := params.Bool(m, "k"); err != nil || got != want {
			t.Errorf("Bool(%q) = %v, %v", value, got, err)
		}
	}
	if _, err := params.Bool(&networkservice.Mechanism{Parameters: map[string]string{"k": "yes"}}, "k"); err == nil {
		t.Error(`Bool("yes") must fail`)
	}
}

func TestSetters(t *testing.T) {
	m := &networkservice.Mechanism{}
	params.SetUint(m, "u", 42)
	params.SetBool(m, "b", true)
	params.SetIP(m, "ip", net.ParseIP("192.0.2.1"))
	params.SetString(m, "s", "x")
	want := map[string]string{"u": "42", "b": "true", "ip": "192.0.2.1", "s": "x"}
	for k, v := range want {
		if m.Parameters[k] != v {
			t.Errorf("%s = %q, want %q", k, m.Parameters[k], v)
		}
	}
	if ip := params.IP(m, "ip"); !ip.Equal(net.ParseIP("192.0.2.1")) {
		t.Errorf("IP = %v", ip)
	}
	params.SetString(m, "s", "")
	params.SetIP(m, "ip", nil)
	if _, ok := m.Parameters["s"]; ok {
		t.Error("setting an empty string must remove the key")
	}
	if _, ok := m.Parameters["ip"]; ok {
		t.Error("setting a nil IP must remove the key")
	}
	// A nil mechanism reads as empty and ignores writes.
	params.SetString(nil, "k", "v")
	if params.String(nil, "k") != "" || params.IP(nil, "k") != nil {
		t.Error("nil mechanism must read as empty")
	}
}

// FuzzUint checks the parsed value always fits and survives a round trip.
func FuzzUint(f *testing.F) {
	for _, s := range []string{"0", "4789", "16777215", "16777216", "-1", "99999999999999999999", "+5", "1_000"} {
		f.Add(s, uint8(24))
	}
	f.Fuzz(func(t *testing.T, s string, bits uint8) {
		b := int(bits%64) + 1
		m := &networkservice.Mechanism{Parameters: map[string]string{"k": s}}
		v, err := params.Uint(m, "k", b)
		if err != nil {
			return
		}
		if b < 64 && v >= 1<<b {
			t.Fatalf("Uint(%q, %d) = %d does not fit", s, b, v)
		}
		params.SetUint(m, "k", v)
		if v2, err := params.Uint(m, "k", b); err != nil || v2 != v {
			t.Fatalf("round trip of %d gave %d, %v", v, v2, err)
		}
	})
}
