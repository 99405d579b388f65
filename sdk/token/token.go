// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc/credentials"
)

// Generator makes the token a hop sends to peer. peer is the AuthInfo of the
// other side of the gRPC connection (nil without transport security); it
// decides the audience.
type Generator interface {
	Generate(peer credentials.AuthInfo) (token string, expires time.Time, err error)
}

// GeneratorFunc adapts a function to Generator.
type GeneratorFunc func(peer credentials.AuthInfo) (string, time.Time, error)

// Generate calls f.
func (f GeneratorFunc) Generate(peer credentials.AuthInfo) (string, time.Time, error) {
	return f(peer)
}

// Claims are the claims of a path token this package reads.
type Claims struct {
	Subject  string
	Audience []string
	// Expires is zero when the token has no exp claim.
	Expires time.Time
}

// CheckExpiry reports ErrNoExpiry or ErrExpired unless the token is still
// valid at now.
func (c Claims) CheckExpiry(now time.Time) error {
	if c.Expires.IsZero() {
		return ErrNoExpiry
	}
	if !now.Before(c.Expires) {
		return fmt.Errorf("%w at %s", ErrExpired, c.Expires.UTC().Format(time.RFC3339))
	}
	return nil
}

// HasAudience reports whether id is one of the token's audiences.
func (c Claims) HasAudience(id string) bool {
	for _, a := range c.Audience {
		if a == id {
			return true
		}
	}
	return false
}

// The parser is stateless once built; sharing it saves an allocation per call.
var parser = jwt.NewParser()

// Parse decodes a token without checking its signature. Policies use it to
// read the claims of tokens signed by hops they hold no key for.
func Parse(tok string) (Claims, error) {
	c, _, _, err := parse(tok)
	return c, err
}

func parse(tok string) (Claims, *jwt.Token, []string, error) {
	var rc jwt.RegisteredClaims
	t, parts, err := parser.ParseUnverified(tok, &rc)
	if err != nil {
		return Claims{}, nil, nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	c := Claims{Subject: rc.Subject, Audience: []string(rc.Audience)}
	if rc.ExpiresAt != nil {
		c.Expires = rc.ExpiresAt.Time
	}
	return c, t, parts, nil
}

// Verify checks that tok is an ES256 JWT signed by the private half of key and
// returns its claims. It does not check expiry: that is a policy of its own
// (Claims.CheckExpiry), and a Close must be able to prove its signer after the
// token ran out.
func Verify(tok string, key crypto.PublicKey) (Claims, error) {
	pub, err := p256Public(key)
	if err != nil {
		return Claims{}, err
	}
	c, t, parts, err := parse(tok)
	if err != nil {
		return Claims{}, err
	}
	if alg := t.Method.Alg(); alg != jwt.SigningMethodES256.Alg() {
		return Claims{}, fmt.Errorf("%w: %q, want ES256", ErrAlgorithm, alg)
	}
	if err := jwt.SigningMethodES256.Verify(parts[0]+"."+parts[1], t.Signature, pub); err != nil {
		return Claims{}, fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	return c, nil
}

// Sign makes an ES256 JWT with the claims sub, aud (omitted when empty) and
// exp (omitted when zero, which no hop of the mesh accepts). exp has whole
// seconds, so c.Expires is truncated.
func Sign(key *ecdsa.PrivateKey, c Claims) (string, error) {
	if key == nil {
		return "", fmt.Errorf("%w: nil private key", ErrKey)
	}
	if _, err := p256Public(&key.PublicKey); err != nil {
		return "", err
	}
	rc := jwt.RegisteredClaims{Subject: c.Subject}
	if len(c.Audience) > 0 {
		rc.Audience = jwt.ClaimStrings(c.Audience)
	}
	if !c.Expires.IsZero() {
		rc.ExpiresAt = jwt.NewNumericDate(c.Expires)
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodES256, rc).SignedString(key)
	if err != nil {
		return "", fmt.Errorf("token: sign: %w", err)
	}
	return tok, nil
}

func p256Public(key crypto.PublicKey) (*ecdsa.PublicKey, error) {
	pub, ok := key.(*ecdsa.PublicKey)
	if !ok || pub == nil {
		return nil, fmt.Errorf("%w: %T, want *ecdsa.PublicKey", ErrKey, key)
	}
	if pub.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%w: curve %s, want P-256", ErrKey, pub.Curve.Params().Name)
	}
	return pub, nil
}

// PeerCertificate returns the leaf certificate the peer presented, or nil when
// info is not TLS or the peer sent none.
func PeerCertificate(info credentials.AuthInfo) *x509.Certificate {
	var certs []*x509.Certificate
	switch ti := info.(type) {
	case credentials.TLSInfo:
		certs = ti.State.PeerCertificates
	case *credentials.TLSInfo:
		if ti != nil {
			certs = ti.State.PeerCertificates
		}
	}
	if len(certs) == 0 {
		return nil
	}
	return certs[0]
}

// SPIFFEID returns the SPIFFE ID in cert's URI SAN.
func SPIFFEID(cert *x509.Certificate) (string, error) {
	id, err := x509svid.IDFromCert(cert)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrPeerID, err)
	}
	return id.String(), nil
}

// trimSeconds matches an expiry to what the exp claim can hold.
func trimSeconds(t time.Time) time.Time { return t.Truncate(time.Second) }

// The subject is checked once, at construction, so that a typo in a
// configured SPIFFE ID fails at startup and not in every call.
func checkSubject(sub string) error {
	if _, err := spiffeid.FromString(sub); err != nil {
		return fmt.Errorf("token: subject %q is not a SPIFFE ID: %w", sub, err)
	}
	return nil
}
