// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package labels_test

import (
	"maps"
	"strings"
	"testing"

	"github.com/nsmesh/nsmesh/apis/labels"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    map[string]string
		wantErr string
	}{
		{in: "", want: map[string]string{}},
		{in: "   ", want: map[string]string{}},
		{in: "app=web", want: map[string]string{"app": "web"}},
		{in: "app=web,zone=a", want: map[string]string{"app": "web", "zone": "a"}},
		{in: " app = web , zone=a ", want: map[string]string{"app": "web", "zone": "a"}},
		{in: "empty=", want: map[string]string{"empty": ""}},
		{in: "url=tcp://x=y", want: map[string]string{"url": "tcp://x=y"}},
		{in: "app", wantErr: `item "app" has no '='`},
		{in: "app:web", wantErr: "has no '='"},
		{in: "=web", wantErr: "empty key"},
		{in: "a=1,,b=2", wantErr: "item 2 is empty"},
		{in: "a=1,", wantErr: "item 2 is empty"},
		{in: "a=1,a=2", wantErr: `key "a" appears more than once`},
	} {
		got, err := labels.Parse(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Parse(%q) error = %v, want it to mention %s", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !maps.Equal(got, tc.want) || got == nil {
			t.Errorf("Parse(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseColon(t *testing.T) {
	got, err := labels.ParseColon("app:web, url:tcp://h:1")
	if err != nil || !maps.Equal(got, map[string]string{"app": "web", "url": "tcp://h:1"}) {
		t.Fatalf("ParseColon = %v, %v", got, err)
	}
	if _, err := labels.ParseColon("app=web"); err == nil || !strings.Contains(err.Error(), "no ':'") {
		t.Errorf("ParseColon(app=web) error = %v", err)
	}
}

func TestFormat(t *testing.T) {
	m := map[string]string{"z": "1", "a": "2", "m": ""}
	if got := labels.Format(m); got != "a=2,m=,z=1" {
		t.Errorf("Format = %q", got)
	}
	if got := labels.FormatColon(m); got != "a:2,m:,z:1" {
		t.Errorf("FormatColon = %q", got)
	}
	if labels.Format(nil) != "" {
		t.Error("Format(nil) must be empty")
	}
}

func TestDecoders(t *testing.T) {
	var m labels.Map
	if err := m.Decode("a=1,b=2"); err != nil || m.String() != "a=1,b=2" {
		t.Errorf("Map.Decode: %v, %v", m, err)
	}
	if err := m.Decode("broken"); err == nil {
		t.Error("Map.Decode must reject broken input")
	}
	var c labels.ColonMap
	if err := c.Decode("a:1"); err != nil || c.String() != "a:1" {
		t.Errorf("ColonMap.Decode: %v, %v", c, err)
	}
	if err := c.Decode("a=1"); err == nil {
		t.Error("ColonMap.Decode must reject the = form")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "a=1", "a=1,b=2", " a = b ", "=", ",", "a=1,a=2", "a:b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, form := range []struct {
			parse  func(string) (map[string]string, error)
			format func(map[string]string) string
		}{{labels.Parse, labels.Format}, {labels.ParseColon, labels.FormatColon}} {
			m, err := form.parse(s)
			if err != nil {
				continue
			}
			again, err := form.parse(form.format(m))
			if err != nil || !maps.Equal(again, m) {
				t.Fatalf("round trip of %q: %v -> %q -> %v, %v", s, m, form.format(m), again, err)
			}
		}
	})
}
