// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package devca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// Defaults of the command line.
const (
	DefaultCATTL   = 365 * 24 * time.Hour
	DefaultSVIDTTL = 24 * time.Hour
)

// Errors of this package, wrapped with details; test with errors.Is.
var (
	// ErrTrustDomain: a SPIFFE ID or CA belongs to another trust domain.
	ErrTrustDomain = errors.New("devca: wrong trust domain")
	// ErrExists: Init found a CA it must not replace without force.
	ErrExists = errors.New("devca: a CA already exists")
	// ErrNoCA: the directory holds no CA.
	ErrNoCA = errors.New("devca: no CA")
	// ErrExpired: the CA is no longer valid.
	ErrExpired = errors.New("devca: CA expired")
	// ErrBadName: a component name or kind cannot be used.
	ErrBadName = errors.New("devca: bad component")
)

// Kinds are the component kinds with conventional SPIFFE IDs
// spiffe://<trust domain>/<kind>/<name>.
var Kinds = []string{"registry", "nsmgr", "forwarder", "nse", "nsc"}

// CA is a development certificate authority of one trust domain.
type CA struct {
	td   spiffeid.TrustDomain
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// New makes a CA for td (P-256, self-signed, URI SAN spiffe://td) valid for ttl.
func New(td spiffeid.TrustDomain, ttl time.Duration) (*CA, error) {
	if td.IsZero() {
		return nil, fmt.Errorf("%w: empty trust domain", ErrTrustDomain)
	}
	if ttl <= 0 {
		return nil, fmt.Errorf("devca: CA lifetime %s must be positive", ttl)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("devca: CA key: %w", err)
	}
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{Organization: []string{"nsmesh development CA"}, CommonName: td.Name()},
		URIs:                  []*url.URL{td.ID().URL()},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(ttl),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("devca: CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("devca: CA certificate: %w", err)
	}
	return &CA{td: td, cert: cert, key: key}, nil
}

// MustNew is New for tests and examples; it panics on error.
func MustNew(td string) *CA {
	ca, err := New(spiffeid.RequireTrustDomainFromString(td), DefaultCATTL)
	if err != nil {
		panic(err)
	}
	return ca
}

// TrustDomain returns the CA's trust domain.
func (ca *CA) TrustDomain() spiffeid.TrustDomain { return ca.td }

// Certificate returns the CA certificate.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

// Bundle returns the trust bundle of the CA's domain: its certificate.
func (ca *CA) Bundle() *x509bundle.Bundle {
	return x509bundle.FromX509Authorities(ca.td, []*x509.Certificate{ca.cert})
}

// Issue returns an X.509-SVID for id (a fresh P-256 key; URI SAN id; key
// usage digitalSignature; extended key usage server and client auth) valid
// for ttl, but never past the CA.
func (ca *CA) Issue(id spiffeid.ID, ttl time.Duration) (*x509svid.SVID, error) {
	if id.IsZero() {
		return nil, fmt.Errorf("%w: empty SPIFFE ID", ErrBadName)
	}
	if id.TrustDomain() != ca.td {
		return nil, fmt.Errorf("%w: %s is not in the CA's trust domain %s", ErrTrustDomain, id, ca.td)
	}
	if ttl <= 0 {
		return nil, fmt.Errorf("devca: SVID lifetime %s must be positive", ttl)
	}
	now := time.Now()
	if !now.Before(ca.cert.NotAfter) {
		return nil, fmt.Errorf("%w at %s", ErrExpired, ca.cert.NotAfter.UTC().Format(time.RFC3339))
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("devca: SVID key: %w", err)
	}
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	notAfter := now.Add(ttl)
	if notAfter.After(ca.cert.NotAfter) {
		notAfter = ca.cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{Organization: []string{"nsmesh"}},
		URIs:         []*url.URL{id.URL()},
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, fmt.Errorf("devca: SVID certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("devca: SVID certificate: %w", err)
	}
	return &x509svid.SVID{ID: id, Certificates: []*x509.Certificate{cert}, PrivateKey: key}, nil
}

// ConventionalID returns spiffe://<td>/<kind>/<name>.
func ConventionalID(td spiffeid.TrustDomain, kind, name string) (spiffeid.ID, error) {
	if err := ValidName(name); err != nil {
		return spiffeid.ID{}, err
	}
	if !knownKind(kind) {
		return spiffeid.ID{}, fmt.Errorf("%w: kind %q is not one of %s", ErrBadName, kind, strings.Join(Kinds, ", "))
	}
	id, err := spiffeid.FromSegments(td, kind, name)
	if err != nil {
		return spiffeid.ID{}, fmt.Errorf("%w: %s/%s: %w", ErrBadName, kind, name, err)
	}
	return id, nil
}

// ParseComponent reads a component of `nsmctl devca init --components`:
// "kind:name", or a name whose first dash-separated word (or the whole name)
// is a kind, such as "nsmgr-1", "forwarder-node-2" or "registry".
func ParseComponent(s string) (kind, name string, err error) {
	s = strings.TrimSpace(s)
	if k, n, ok := strings.Cut(s, ":"); ok {
		if !knownKind(k) {
			return "", "", fmt.Errorf("%w: %q: kind %q is not one of %s", ErrBadName, s, k, strings.Join(Kinds, ", "))
		}
		return k, n, ValidName(n)
	}
	if err := ValidName(s); err != nil {
		return "", "", err
	}
	k, _, _ := strings.Cut(s, "-")
	if !knownKind(k) {
		return "", "", fmt.Errorf("%w: cannot tell the kind of %q; write kind:name with kind one of %s (e.g. nse:%s)",
			ErrBadName, s, strings.Join(Kinds, ", "), s)
	}
	return k, s, nil
}

func knownKind(k string) bool {
	for _, x := range Kinds {
		if x == k {
			return true
		}
	}
	return false
}

// ValidName reports whether n can name a component: one SPIFFE ID path
// segment and one directory.
func ValidName(n string) error {
	if n == "" || n == "." || n == ".." {
		return fmt.Errorf("%w: empty name", ErrBadName)
	}
	for _, r := range n {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'
		if !ok {
			return fmt.Errorf("%w: name %q may only hold letters, digits, '-', '_' and '.'", ErrBadName, n)
		}
	}
	return nil
}

func serial() (*big.Int, error) {
	sn, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("devca: serial number: %w", err)
	}
	return sn.Add(sn, big.NewInt(1)), nil
}
