// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package token_test

import (
	"testing"
	"time"

	"github.com/nsmesh/nsmesh/sdk/token"
)

func BenchmarkSign(b *testing.B) {
	p := newPKI(b)
	gen, err := p.client.Generator(10 * time.Minute)
	if err != nil {
		b.Fatal(err)
	}
	peer := p.server.AuthInfo()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := gen.Generate(peer); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	p := newPKI(b)
	gen, err := p.client.Generator(10 * time.Minute)
	if err != nil {
		b.Fatal(err)
	}
	tok, _, err := gen.Generate(p.server.AuthInfo())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := token.Verify(tok, &p.client.Key.PublicKey); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	p := newPKI(b)
	gen, err := p.client.Generator(10 * time.Minute)
	if err != nil {
		b.Fatal(err)
	}
	tok, _, err := gen.Generate(p.server.AuthInfo())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := token.Parse(tok); err != nil {
			b.Fatal(err)
		}
	}
}
