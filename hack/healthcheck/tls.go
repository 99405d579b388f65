// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
)

// Files of an SVID directory (NSM_SVID_DIR), as `nsmctl devca` writes them
// and sdk/tools/spiffe reads them.
const (
	svidFile   = "svid.pem"
	keyFile    = "svid_key.pem"
	bundleFile = "bundle.pem"
)

// transportSecurity decides, from the component's own environment, how its
// servers speak: mutual TLS with the SVID in NSM_SVID_DIR, or plaintext with
// NSM_INSECURE=true or (binaries before SPIFFE identities) no identity at
// all. The probe presents the component's own SVID, so it needs no identity
// of its own.
func transportSecurity(getenv func(string) string) (*tls.Config, error) {
	if raw := getenv("NSM_INSECURE"); raw != "" {
		insecure, err := strconv.ParseBool(raw)
		if err != nil {
			return nil, fmt.Errorf("NSM_INSECURE=%q: want true or false", raw)
		}
		if insecure {
			return nil, nil
		}
	}
	if dir := getenv("NSM_SVID_DIR"); dir != "" {
		return svidTLS(dir)
	}
	if getenv("SPIFFE_ENDPOINT_SOCKET") != "" {
		return nil, errors.New("SVIDs from the Workload API (SPIFFE_ENDPOINT_SOCKET) are not supported: " +
			"give the probe an SVID directory (NSM_SVID_DIR)")
	}
	return nil, nil
}

// svidTLS is a client configuration presenting the SVID of dir and accepting
// a server whose certificate chains to dir's bundle and names a SPIFFE ID.
// Host names mean nothing to SPIFFE, hence the custom verification.
func svidTLS(dir string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, svidFile), filepath.Join(dir, keyFile))
	if err != nil {
		return nil, fmt.Errorf("SVID in %s: %w", dir, err)
	}
	pemBytes, err := os.ReadFile(filepath.Join(dir, bundleFile))
	if err != nil {
		return nil, fmt.Errorf("trust bundle: %w", err)
	}
	roots := x509.NewCertPool()
	n := 0
	for rest := pemBytes; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("trust bundle %s: %w", filepath.Join(dir, bundleFile), err)
		}
		roots.AddCert(c)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("trust bundle %s: no certificate", filepath.Join(dir, bundleFile))
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{"h2"}, // gRPC servers insist on ALPN h2
		// Verification is done below, against the bundle and without a
		// host name.
		InsecureSkipVerify: true, //nolint:gosec // replaced by VerifyPeerCertificate
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			return verifySVID(raw, roots)
		},
	}, nil
}

// verifySVID checks that the presented chain leads to roots and that the
// leaf carries exactly one spiffe:// URI, as an X.509-SVID must.
func verifySVID(raw [][]byte, roots *x509.CertPool) error {
	if len(raw) == 0 {
		return errors.New("server presented no certificate")
	}
	certs := make([]*x509.Certificate, len(raw))
	for i, r := range raw {
		c, err := x509.ParseCertificate(r)
		if err != nil {
			return fmt.Errorf("server certificate: %w", err)
		}
		certs[i] = c
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	leaf := certs[0]
	if _, err := leaf.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}); err != nil {
		return fmt.Errorf("server SVID: %w", err)
	}
	if len(leaf.URIs) != 1 || !isSPIFFE(leaf.URIs[0]) {
		return fmt.Errorf("server certificate is not an X.509-SVID (URI SANs %v)", leaf.URIs)
	}
	return nil
}

func isSPIFFE(u *url.URL) bool { return u.Scheme == "spiffe" && u.Host != "" }
