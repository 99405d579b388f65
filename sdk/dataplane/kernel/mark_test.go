// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package kernel_test

import (
	"strings"
	"testing"

	"github.com/nsmesh/nsmesh/sdk/dataplane/kernel"
)

func TestMarkAlias(t *testing.T) {
	for _, tc := range []struct {
		name  string
		mark  kernel.Mark
		alias string
		valid bool
	}{
		{"uuid", kernel.Mark{Owner: "forwarder-a", ConnID: "0b5c7a4e-1f2d-4c3b-9a8e-7d6c5b4a3f2e"}, "nsm:forwarder-a:0b5c7a4e-1f2d-4c3b-9a8e-7d6c5b4a3f2e", true},
		{"conn id with colons", kernel.Mark{Owner: "f", ConnID: "a:b:c"}, "nsm:f:a:b:c", true},
		{"empty owner", kernel.Mark{ConnID: "c"}, "nsm::c", false},
		{"empty conn", kernel.Mark{Owner: "f"}, "nsm:f:", false},
		{"colon in owner", kernel.Mark{Owner: "f:g", ConnID: "c"}, "nsm:f:g:c", false},
		{"control character", kernel.Mark{Owner: "f", ConnID: "c\n"}, "nsm:f:c\n", false},
		{"too long", kernel.Mark{Owner: "f", ConnID: strings.Repeat("x", 250)}, "nsm:f:" + strings.Repeat("x", 250), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.mark.Alias(); got != tc.alias {
				t.Errorf("Alias() = %q, want %q", got, tc.alias)
			}
			if err := tc.mark.Validate(); (err == nil) != tc.valid {
				t.Errorf("Validate() = %v, want valid=%v", err, tc.valid)
			}
			// A valid mark must come back from its alias; an invalid one
			// must never be what an alias parses to.
			got, ok := kernel.ParseMark(tc.alias)
			if tc.valid && (!ok || got != tc.mark) {
				t.Errorf("ParseMark(%q) = %+v, %v; want %+v", tc.alias, got, ok, tc.mark)
			}
			if !tc.valid && ok && got == tc.mark {
				t.Errorf("ParseMark(%q) returned the invalid mark %+v", tc.alias, got)
			}
		})
	}
}

func TestParseMarkForeign(t *testing.T) {
	for _, alias := range []string{"", "server-123", "nsm", "nsm:", "nsm:owner", "NSM:f:c", "veth-nsm:f:c"} {
		if m, ok := kernel.ParseMark(alias); ok {
			t.Errorf("ParseMark(%q) = %+v, want not ours", alias, m)
		}
	}
}

func FuzzParseMark(f *testing.F) {
	for _, s := range []string{"nsm:f:c", "nsm::", "nsm:a:b:c", "x", "nsm:f:\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, alias string) {
		m, ok := kernel.ParseMark(alias)
		if !ok {
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("ParseMark(%q) returned invalid mark %+v: %v", alias, m, err)
		}
		if m.Alias() != alias {
			t.Fatalf("ParseMark(%q).Alias() = %q, not a round trip", alias, m.Alias())
		}
	})
}

func TestValidateIfName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"nsm0", true},
		{"abcdefghijklmno", true},
		{"abcdefghijklmnop", false},
		{"", false},
		{".", false},
		{"..", false},
		{"a/b", false},
		{"a b", false},
		{"a:b", false},
	} {
		if err := kernel.ValidateIfName(tc.name); (err == nil) != tc.ok {
			t.Errorf("ValidateIfName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}
