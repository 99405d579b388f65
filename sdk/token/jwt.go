// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package token

import (
	"crypto/ecdsa"
	"fmt"
	"time"

	"google.golang.org/grpc/credentials"
)

// JWTGenerator signs path tokens with a fixed P-256 key.
type JWTGenerator struct {
	key         *ecdsa.PrivateKey
	subject     string
	maxLifetime time.Duration
	notAfter    time.Time
	now         func() time.Time
}

// GeneratorOption changes a JWTGenerator.
type GeneratorOption func(*JWTGenerator)

// WithClock replaces time.Now; tests use it to make tokens that are already
// expired or expire at a known time.
func WithClock(now func() time.Time) GeneratorOption {
	return func(g *JWTGenerator) { g.now = now }
}

// WithNotAfter caps every expiry at t, normally the NotAfter of the signing
// certificate: a token must not outlive the identity that signed it.
func WithNotAfter(t time.Time) GeneratorOption {
	return func(g *JWTGenerator) { g.notAfter = t }
}

// NewJWTGenerator returns a generator that signs with key as subject (a
// SPIFFE ID) for at most maxLifetime.
func NewJWTGenerator(key *ecdsa.PrivateKey, subject string, maxLifetime time.Duration, opts ...GeneratorOption) (*JWTGenerator, error) {
	if key == nil {
		return nil, fmt.Errorf("%w: nil private key", ErrKey)
	}
	if _, err := p256Public(&key.PublicKey); err != nil {
		return nil, err
	}
	if err := checkSubject(subject); err != nil {
		return nil, err
	}
	if maxLifetime <= 0 {
		return nil, fmt.Errorf("token: max lifetime %s must be positive", maxLifetime)
	}
	g := &JWTGenerator{key: key, subject: subject, maxLifetime: maxLifetime, now: time.Now}
	for _, o := range opts {
		o(g)
	}
	if g.now == nil {
		return nil, fmt.Errorf("token: nil clock")
	}
	return g, nil
}

// Generate signs a token for peer. The audience is the SPIFFE ID of the peer's
// TLS certificate when there is one; a peer certificate without a SPIFFE ID is
// an error, since a token without audience could be replayed to any hop.
//
// exp is now+maxLifetime capped at WithNotAfter. The returned expiry is also
// capped at the peer certificate's NotAfter (as upstream): the caller must
// renew before the peer's identity lapses, though the claim does not say so.
func (g *JWTGenerator) Generate(peer credentials.AuthInfo) (string, time.Time, error) {
	exp := g.now().Add(g.maxLifetime)
	if !g.notAfter.IsZero() && g.notAfter.Before(exp) {
		exp = g.notAfter
	}
	exp = trimSeconds(exp)
	c := Claims{Subject: g.subject, Expires: exp}
	if cert := PeerCertificate(peer); cert != nil {
		id, err := SPIFFEID(cert)
		if err != nil {
			return "", time.Time{}, err
		}
		c.Audience = []string{id}
		if cert.NotAfter.Before(exp) {
			exp = cert.NotAfter
		}
	}
	tok, err := Sign(g.key, c)
	if err != nil {
		return "", time.Time{}, err
	}
	return tok, exp, nil
}

var _ Generator = (*JWTGenerator)(nil)
