// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package interdomain_test

import (
	"strings"
	"testing"

	"github.com/nsmesh/nsmesh/apis/interdomain"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    interdomain.Name
		wantErr string
	}{
		{in: "red", want: interdomain.Name{Target: "red"}},
		{in: "red@example.com", want: interdomain.Name{Target: "red", Domain: "example.com"}},
		{in: "nse-1@cluster-2.local", want: interdomain.Name{Target: "nse-1", Domain: "cluster-2.local"}},
		{in: "", wantErr: "empty name"},
		{in: "@example.com", wantErr: "nothing before"},
		{in: "red@", wantErr: "no domain"},
		{in: "a@b@c", wantErr: "more than one"},
	} {
		got, err := interdomain.Parse(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Parse(%q) error = %v, want it to mention %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
		if got.String() != tc.in {
			t.Errorf("Parse(%q).String() = %q", tc.in, got.String())
		}
		if got.IsRemote() != (tc.want.Domain != "") {
			t.Errorf("Parse(%q).IsRemote() = %v", tc.in, got.IsRemote())
		}
	}
}

// Target and Domain split at the first "@" like upstream, without checks.
func TestLenientAccessors(t *testing.T) {
	for _, tc := range []struct{ in, target, domain string }{
		{"red", "red", ""},
		{"red@d", "red", "d"},
		{"a@b@c", "a", "b@c"},
		{"@d", "", "d"},
		{"", "", ""},
	} {
		if interdomain.Target(tc.in) != tc.target || interdomain.Domain(tc.in) != tc.domain {
			t.Errorf("%q: Target %q Domain %q, want %q %q", tc.in, interdomain.Target(tc.in), interdomain.Domain(tc.in), tc.target, tc.domain)
		}
		if interdomain.Is(tc.in) != strings.Contains(tc.in, "@") {
			t.Errorf("Is(%q) = %v", tc.in, interdomain.Is(tc.in))
		}
	}
	if interdomain.Join("red", "d") != "red@d" || interdomain.Join("red", "") != "red" {
		t.Error("Join")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"red", "red@d", "@", "a@b@c", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := interdomain.Parse(s)
		if err != nil {
			return
		}
		if n.Target == "" || n.String() != s || strings.Contains(n.Domain, "@") {
			t.Fatalf("Parse(%q) = %+v", s, n)
		}
		if n.Target != interdomain.Target(s) || n.Domain != interdomain.Domain(s) {
			t.Fatalf("Parse and Target/Domain disagree on %q", s)
		}
	})
}
