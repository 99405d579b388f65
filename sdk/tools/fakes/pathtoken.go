// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package fakes

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net/url"
	"time"

	"google.golang.org/grpc/credentials"

	"github.com/nsmesh/nsmesh/sdk/token"
)

// SPIFFECA issues X.509 SVIDs (P-256, one SPIFFE URI SAN) for tests, so that
// tokens, mTLS and the authorize policies can run against real certificates
// without a SPIRE server.
type SPIFFECA struct {
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
	pool *x509.CertPool
}

// NewSPIFFECA returns a self-signed CA for trustDomain, valid for a day.
func NewSPIFFECA(trustDomain string) (*SPIFFECA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("fakes: CA key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: trustDomain},
		URIs:                  []*url.URL{{Scheme: "spiffe", Host: trustDomain}},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("fakes: CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("fakes: CA certificate: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &SPIFFECA{key: key, cert: cert, pool: pool}, nil
}

// Pool returns the CA as the only trusted root.
func (ca *SPIFFECA) Pool() *x509.CertPool { return ca.pool }

// SVID is an identity issued by SPIFFECA.
type SVID struct {
	ID   string
	Key  *ecdsa.PrivateKey
	Cert *x509.Certificate
}

// Issue returns an SVID for the SPIFFE ID id (spiffe://domain/path) valid
// until notAfter (the CA's NotAfter when zero).
func (ca *SPIFFECA) Issue(id string, notAfter time.Time) (*SVID, error) {
	u, err := url.Parse(id)
	if err != nil || u.Scheme != "spiffe" {
		return nil, fmt.Errorf("fakes: %q is not a SPIFFE ID", id)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("fakes: SVID key: %w", err)
	}
	if notAfter.IsZero() {
		notAfter = ca.cert.NotAfter
	}
	sn, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, fmt.Errorf("fakes: serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		URIs:         []*url.URL{u},
		NotBefore:    ca.cert.NotBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, fmt.Errorf("fakes: SVID certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("fakes: SVID certificate: %w", err)
	}
	return &SVID{ID: id, Key: key, Cert: cert}, nil
}

// Generator returns a token generator signing as s, capped at s's NotAfter.
func (s *SVID) Generator(maxLifetime time.Duration, opts ...token.GeneratorOption) (*token.JWTGenerator, error) {
	opts = append([]token.GeneratorOption{token.WithNotAfter(s.Cert.NotAfter)}, opts...)
	return token.NewJWTGenerator(s.Key, s.ID, maxLifetime, opts...)
}

// AuthInfo returns the AuthInfo a gRPC peer of s would see: TLS with s's
// certificate as the peer's leaf.
func (s *SVID) AuthInfo() credentials.AuthInfo {
	return credentials.TLSInfo{
		State:          tls.ConnectionState{PeerCertificates: []*x509.Certificate{s.Cert}},
		CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity},
	}
}

// TLSConfig returns an mTLS configuration presenting s and trusting only ca,
// usable as both client and server configuration. Host names are not
// checked: peers are identified by SPIFFE ID, as with go-spiffe's AuthorizeAny.
func (s *SVID) TLSConfig(ca *SPIFFECA) *tls.Config {
	pool := ca.Pool()
	verify := func(raw [][]byte, _ [][]*x509.Certificate) error {
		if len(raw) == 0 {
			return fmt.Errorf("fakes: peer sent no certificate")
		}
		leaf, err := x509.ParseCertificate(raw[0])
		if err != nil {
			return err
		}
		_, err = leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
		return err
	}
	return &tls.Config{
		Certificates:          []tls.Certificate{{Certificate: [][]byte{s.Cert.Raw}, PrivateKey: s.Key, Leaf: s.Cert}},
		ClientAuth:            tls.RequireAnyClientCert,
		InsecureSkipVerify:    true, //nolint:gosec // replaced by VerifyPeerCertificate against the CA
		VerifyPeerCertificate: verify,
		MinVersion:            tls.VersionTLS12,
	}
}
