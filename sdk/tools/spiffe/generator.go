// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package spiffe

import (
	"crypto/ecdsa"
	"crypto/x509"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc/credentials"

	"github.com/nsmesh/nsmesh/sdk/token"
)

// TokenGenerator signs path tokens with the current SVID of a source: ES256
// with the SVID's key, sub = its SPIFFE ID, aud = the peer's SPIFFE ID (from
// the peer's TLS certificate), exp = now + the maximum lifetime but never
// past the SVID's NotAfter. The SVID is fetched for every token, so tokens
// made after a rotation are signed with the new key and verify against the
// certificate the peer sees on connections made after the rotation.
type TokenGenerator struct {
	src         x509svid.Source
	maxLifetime time.Duration
	opts        []token.GeneratorOption
	// t, when set, tells which SVID a connection presented (Identity).
	t *tracker
	// cur is the signer of the SVID seen last: rebuilt only on rotation.
	cur atomic.Pointer[signer]

	mu  sync.Mutex
	old map[*x509.Certificate]*signer // signers of rotated SVIDs still on connections
}

type signer struct {
	leaf *x509.Certificate
	gen  *token.JWTGenerator
}

// NewTokenGenerator returns a generator for src. It fails at once (ErrKey)
// when the current SVID's key cannot sign ES256 tokens. opts go to
// token.NewJWTGenerator (token.WithClock in tests).
//
// It always signs with the newest SVID; Identity.TokenGenerator instead
// signs, for a peer on a TLS connection, with the SVID presented on that
// connection (see Identity).
func NewTokenGenerator(src x509svid.Source, maxLifetime time.Duration, opts ...token.GeneratorOption) (*TokenGenerator, error) {
	if src == nil {
		return nil, fmt.Errorf("spiffe: token generator: nil source")
	}
	if maxLifetime <= 0 {
		return nil, fmt.Errorf("spiffe: token lifetime %s must be positive", maxLifetime)
	}
	g := &TokenGenerator{src: src, maxLifetime: maxLifetime, opts: opts, old: map[*x509.Certificate]*signer{}}
	if _, err := g.current(); err != nil {
		return nil, err
	}
	return g, nil
}

// Generate implements token.Generator.
func (g *TokenGenerator) Generate(peer credentials.AuthInfo) (string, time.Time, error) {
	var s *signer
	var err error
	if svid := g.presented(peer); svid != nil {
		s, err = g.signerOf(svid)
	} else {
		s, err = g.current()
	}
	if err != nil {
		return "", time.Time{}, err
	}
	return s.gen.Generate(peer)
}

func (g *TokenGenerator) presented(peer credentials.AuthInfo) *x509svid.SVID {
	if g.t == nil || peer == nil {
		return nil
	}
	return g.t.svidFor(peer)
}

// current returns the signer of the source's SVID now.
func (g *TokenGenerator) current() (*signer, error) {
	svid, err := g.src.GetX509SVID()
	if err != nil {
		return nil, fmt.Errorf("spiffe: token generator: %w", err)
	}
	return g.signerOf(svid)
}

// signerOf returns the signer of svid, from the cache when it has one.
func (g *TokenGenerator) signerOf(svid *x509svid.SVID) (*signer, error) {
	if len(svid.Certificates) == 0 {
		return nil, fmt.Errorf("%w: SVID without certificate", ErrSVID)
	}
	leaf := svid.Certificates[0]
	if s := g.cur.Load(); s != nil && s.leaf == leaf {
		return s, nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if s, ok := g.old[leaf]; ok {
		return s, nil
	}
	key, ok := svid.PrivateKey.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: %s has a %T key; path tokens are ES256 and need ECDSA P-256", ErrKey, svid.ID, svid.PrivateKey)
	}
	opts := append([]token.GeneratorOption{token.WithNotAfter(leaf.NotAfter)}, g.opts...)
	gen, err := token.NewJWTGenerator(key, svid.ID.String(), g.maxLifetime, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrKey, svid.ID, err)
	}
	s := &signer{leaf: leaf, gen: gen}
	now := time.Now()
	for l := range g.old {
		if now.After(l.NotAfter) {
			delete(g.old, l)
		}
	}
	g.old[leaf] = s
	if cur, err := g.src.GetX509SVID(); err == nil && len(cur.Certificates) > 0 && cur.Certificates[0] == leaf {
		g.cur.Store(s)
	}
	return s, nil
}

var _ token.Generator = (*TokenGenerator)(nil)
