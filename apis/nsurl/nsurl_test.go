// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package nsurl_test

import (
	"maps"
	"strings"
	"testing"

	"github.com/nsmesh/nsmesh/apis/nsurl"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want nsurl.URL
	}{
		{"kernel://red", nsurl.URL{Mechanism: "KERNEL", NetworkService: "red", Labels: map[string]string{}}},
		{"kernel://red/", nsurl.URL{Mechanism: "KERNEL", NetworkService: "red", Labels: map[string]string{}}},
		{"kernel://red/nsm-1", nsurl.URL{Mechanism: "KERNEL", NetworkService: "red", InterfaceName: "nsm-1", Labels: map[string]string{}}},
		{"KERNEL://Red/nsm-1", nsurl.URL{Mechanism: "KERNEL", NetworkService: "Red", InterfaceName: "nsm-1", Labels: map[string]string{}}},
		{"memif://blue?app=web&zone=a", nsurl.URL{Mechanism: "MEMIF", NetworkService: "blue", Labels: map[string]string{"app": "web", "zone": "a"}}},
		{"kernel://red/a/b/nsm-2?x=1", nsurl.URL{Mechanism: "KERNEL", NetworkService: "red", InterfaceName: "nsm-2", Labels: map[string]string{"x": "1"}}},
		{"kernel://svc@example.com/eth9", nsurl.URL{Mechanism: "KERNEL", NetworkService: "svc@example.com", InterfaceName: "eth9", Labels: map[string]string{}}},
		{"vfio://second?sriovToken=intel/10G", nsurl.URL{Mechanism: "VFIO", NetworkService: "second", Labels: map[string]string{"sriovToken": "intel/10G"}}},
		{"kernel://red?a=1&a=2", nsurl.URL{Mechanism: "KERNEL", NetworkService: "red", Labels: map[string]string{"a": "1,2"}}},
		{"kernel://red?v=x%20y&e=", nsurl.URL{Mechanism: "KERNEL", NetworkService: "red", Labels: map[string]string{"v": "x y", "e": ""}}},
		{"  kernel://red  ", nsurl.URL{Mechanism: "KERNEL", NetworkService: "red", Labels: map[string]string{}}},
		{"kernel://red/abcdefghijklmno", nsurl.URL{Mechanism: "KERNEL", NetworkService: "red", InterfaceName: "abcdefghijklmno", Labels: map[string]string{}}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := nsurl.Parse(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got.Mechanism != tc.want.Mechanism || got.NetworkService != tc.want.NetworkService ||
				got.InterfaceName != tc.want.InterfaceName || !maps.Equal(got.Labels, tc.want.Labels) || got.Labels == nil {
				t.Fatalf("Parse = %+v, want %+v", *got, tc.want)
			}
			again, err := nsurl.Parse(got.String())
			if err != nil || again.String() != got.String() || again.NetworkService != got.NetworkService || !maps.Equal(again.Labels, got.Labels) {
				t.Fatalf("round trip via %q gave %+v, %v", got.String(), again, err)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for in, want := range map[string]string{
		"":                              "empty network service URL",
		"red":                           "no mechanism scheme",
		"kernel:red":                    "missing //",
		"kernel://":                     "empty network service",
		"kernel:///nsm-1":               "empty network service",
		"kernel://red:5000":             "must not contain ':'",
		"kernel://[::1]":                "must not contain ':'",
		"kernel://red/abcdefghijklmnop": "at most 15",
		"kernel://red/a%20b":            "does not allow",
		"kernel://red/..":               "reserved",
		"kernel://red?a=%zz":            "labels",
		"kernel://red?a=1;b=2":          "labels",
		"kernel://red?=v":               "empty key",
		"kernel://red#frag":             "fragment",
		"kernel://red#":                 "fragment",
		"kernel://u:p@red":              "password",
		"kernel://@red":                 "nothing before",
		"kernel://a%40b@red":            "more than one",
		"kernel://re%zzd":               "invalid URL escape",
		"://red":                        "missing protocol scheme",
	} {
		_, err := nsurl.Parse(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) error = %v, want it to mention %q", in, err, want)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "nsurl: ") {
			t.Errorf("Parse(%q) error %q lacks the package prefix", in, err)
		}
	}
}

func TestParseList(t *testing.T) {
	got, err := nsurl.ParseList("kernel://red/nsm-1?app=a, memif://blue")
	if err != nil || len(got) != 2 || got[0].NetworkService != "red" || got[1].Mechanism != "MEMIF" {
		t.Fatalf("ParseList = %v, %v", got, err)
	}
	if got, err := nsurl.ParseList(" "); got != nil || err != nil {
		t.Errorf("empty list = %v, %v", got, err)
	}
	if _, err := nsurl.ParseList("kernel://red,kernel://"); err == nil {
		t.Error("a bad item must fail the list")
	}
}

func TestMechanismPreference(t *testing.T) {
	u, err := nsurl.Parse("kernel://red/nsm-1")
	if err != nil {
		t.Fatal(err)
	}
	m := u.MechanismPreference()
	if m.GetCls() != "LOCAL" || m.GetType() != "KERNEL" || m.GetParameters()["name"] != "nsm-1" || len(m.GetParameters()) != 1 {
		t.Errorf("MechanismPreference = %v", m)
	}
	u, _ = nsurl.Parse("memif://red")
	if m := u.MechanismPreference(); m.GetType() != "MEMIF" || len(m.GetParameters()) != 0 {
		t.Errorf("MechanismPreference without name = %v", m)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"kernel://red", "kernel://red/nsm-1?app=web&x=", "memif://svc@example.com/if?a=1&a=2",
		"kernel://", "kernel://red:1", "kernel://red?%zz", "x://a/b/c/d", "kernel://red#x", "kernel://@d",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := nsurl.Parse(s)
		if err != nil {
			return
		}
		if u.NetworkService == "" || u.Mechanism == "" || u.Labels == nil || len(u.InterfaceName) > 15 {
			t.Fatalf("Parse(%q) accepted %+v", s, *u)
		}
		again, err := nsurl.Parse(u.String())
		if err != nil {
			t.Fatalf("Parse(%q) ok but its String %q does not parse: %v", s, u.String(), err)
		}
		if again.Mechanism != u.Mechanism || again.NetworkService != u.NetworkService ||
			again.InterfaceName != u.InterfaceName || !maps.Equal(again.Labels, u.Labels) {
			t.Fatalf("round trip of %q via %q: %+v != %+v", s, u.String(), *again, *u)
		}
		u.MechanismPreference()
	})
}
