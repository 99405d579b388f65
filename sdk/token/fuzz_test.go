// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package token_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nsmesh/nsmesh/sdk/token"
)

// FuzzParse checks that Parse never panics, fails only with ErrMalformed, and
// that Verify never accepts what a fixed key did not sign.
func FuzzParse(f *testing.F) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	good, err := token.Sign(key, token.Claims{Subject: "spiffe://a/b", Audience: []string{"spiffe://a/c"}, Expires: time.Unix(1_800_000_000, 0)})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add("")
	f.Add("..")
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")
	f.Add("eyJhbGciOiJFUzI1NiJ9.eyJleHAiOiJ4In0.AA")
	f.Add(strings.Repeat("a.", 3))
	f.Fuzz(func(t *testing.T, s string) {
		c, err := token.Parse(s)
		if err != nil {
			if !errors.Is(err, token.ErrMalformed) {
				t.Fatalf("Parse(%q) error %v is not ErrMalformed", s, err)
			}
			return
		}
		_ = c.CheckExpiry(time.Now())
		if _, err := token.Verify(s, &key.PublicKey); err == nil && s != good {
			// ECDSA signatures are randomised, so only the seed may verify.
			t.Fatalf("Verify accepted %q", s)
		}
	})
}
