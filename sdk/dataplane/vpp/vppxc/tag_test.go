// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package vppxc

import (
	"strings"
	"testing"
)

func TestConnKey(t *testing.T) {
	uuid := "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
	tests := []struct {
		name, owner, id string
		verbatim        bool
	}{
		{name: "short id", owner: "fwd1", id: "conn-1", verbatim: true},
		{name: "uuid with a short owner", owner: "fwd-1", id: uuid, verbatim: true},
		{name: "uuid with the default owner", owner: DefaultOwner, id: uuid},
		{name: "uuid with a long owner", owner: strings.Repeat("o", MaxOwnerLen), id: uuid},
		{name: "id with a colon", owner: "fwd1", id: "a:b"},
		{name: "id with a space", owner: "fwd1", id: "a b"},
		{name: "id with a hash sign", owner: "fwd1", id: "#abc"},
		{name: "empty id", owner: "fwd1", id: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := connKey(tt.owner, tt.id)
			if (k == tt.id) != tt.verbatim {
				t.Errorf("connKey = %q, verbatim %v, want %v", k, k == tt.id, tt.verbatim)
			}
			if !tt.verbatim && (len(k) != 16 || k[0] != '#') {
				t.Errorf("hashed key %q, want # and 15 hex digits", k)
			}
			if connKey(tt.owner, tt.id+"x") == k {
				t.Error("two ids share a key")
			}
			full := tag{owner: tt.owner, conn: k, role: roleDown, kind: kindWireguard, hash: identityHash("x")}.String()
			if len(full) > maxTagLen {
				t.Errorf("tag %q is %d bytes, VPP keeps %d", full, len(full), maxTagLen)
			}
			if got, ok := parseTag(full); !ok || got.String() != full || got.owner != tt.owner || got.conn != k {
				t.Errorf("parseTag(%q) = %+v, %v", full, got, ok)
			}
		})
	}
}

func TestParseTagRejects(t *testing.T) {
	for _, s := range []string{
		"", "nsm:", "someone else", "nsm:fwd1:conn:ut", "nsm:fwd1:conn:ut:123", "nsm:fwd1:conn:zt:12345678",
		"nsm:fwd1:conn:uz:12345678", "nsm::conn:ut:12345678", "nsm:fwd1::ut:12345678", "nsm:fwd1:a:b:ut:12345678",
		"xsm:fwd1:conn:ut:12345678",
	} {
		if got, ok := parseTag(s); ok {
			t.Errorf("parseTag(%q) = %+v, want rejected", s, got)
		}
	}
}

func FuzzParseTag(f *testing.F) {
	f.Add("nsm:fwd1:conn-1:ut:0123abcd")
	f.Add("nsm:forwarder-vpp:#0123456789abcde:dx:deadbeef")
	f.Add("nsm:a:b:dw:12345678:")
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseTag(s)
		if !ok {
			return
		}
		if got.String() != s {
			t.Errorf("parseTag(%q) renders back as %q", s, got.String())
		}
		if !strings.HasPrefix(s, connPrefix(got.owner, got.conn)) {
			t.Errorf("tag %q does not start with its connection prefix", s)
		}
	})
}

func FuzzConnKey(f *testing.F) {
	f.Add("forwarder-vpp", "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")
	f.Add("f", ":")
	f.Fuzz(func(t *testing.T, owner, id string) {
		if validateOwner(owner) != nil {
			return
		}
		full := tag{owner: owner, conn: connKey(owner, id), role: roleUp, kind: kindTap, hash: identityHash(id)}.String()
		if len(full) > maxTagLen {
			t.Fatalf("tag %q is longer than %d", full, maxTagLen)
		}
		if got, ok := parseTag(full); !ok || got.String() != full || got.owner != owner {
			t.Fatalf("parseTag(%q) = %+v, %v", full, got, ok)
		}
	})
}
