// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testCA is a trust domain's CA issuing X.509-SVIDs, as nsmctl devca does.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test CA"},
		NotBefore:             time.Now().Add(-time.Minute),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
		URIs:                  []*url.URL{{Scheme: "spiffe", Host: "nsmesh.local"}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key}
}

// issue returns a leaf for uri (no URI SAN when uri is empty).
func (ca *testCA) issue(t *testing.T, uri string) (certPEM, keyPEM []byte, pair tls.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	if uri != "" {
		u, err := url.Parse(uri)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.URIs = []*url.URL{u}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
	pair, err = tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return certPEM, keyPEM, pair
}

func (ca *testCA) bundlePEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})
}

// svidDir writes an SVID directory in devca's layout.
func svidDir(t *testing.T, certPEM, keyPEM, bundle []byte) string {
	t.Helper()
	dir := t.TempDir()
	for name, b := range map[string][]byte{svidFile: certPEM, keyFile: keyPEM, bundleFile: bundle} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestTransportSecurity(t *testing.T) {
	ca := newTestCA(t)
	c, k, _ := ca.issue(t, "spiffe://nsmesh.local/nsmgr/nsmgr-1")
	dir := svidDir(t, c, k, ca.bundlePEM())
	for _, tc := range []struct {
		name    string
		env     map[string]string
		wantTLS bool
		err     string
	}{
		{name: "no identity: plaintext", env: nil},
		{name: "insecure wins", env: map[string]string{"NSM_INSECURE": "true", "NSM_SVID_DIR": dir}},
		{name: "insecure false", env: map[string]string{"NSM_INSECURE": "false", "NSM_SVID_DIR": dir}, wantTLS: true},
		{name: "insecure bad", env: map[string]string{"NSM_INSECURE": "yes"}, err: "want true or false"},
		{name: "svid dir", env: map[string]string{"NSM_SVID_DIR": dir}, wantTLS: true},
		{name: "missing dir", env: map[string]string{"NSM_SVID_DIR": filepath.Join(dir, "none")}, err: "SVID in"},
		{name: "workload api", env: map[string]string{"SPIFFE_ENDPOINT_SOCKET": "unix:///x"}, err: "not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf, err := transportSecurity(func(k string) string { return tc.env[k] })
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || (conf != nil) != tc.wantTLS {
				t.Fatalf("got TLS %v, %v; want TLS %v", conf != nil, err, tc.wantTLS)
			}
		})
	}
}

func TestCheckMutualTLS(t *testing.T) {
	ca := newTestCA(t)
	_, _, serverPair := ca.issue(t, "spiffe://nsmesh.local/registry/registry")
	_, _, plainPair := ca.issue(t, "")
	clientCert, clientKey, _ := ca.issue(t, "spiffe://nsmesh.local/nsmgr/nsmgr-1")
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	serverConf := func(pair tls.Certificate) *tls.Config {
		return &tls.Config{
			MinVersion:   tls.VersionTLS12,
			Certificates: []tls.Certificate{pair},
			ClientCAs:    roots,
			ClientAuth:   tls.RequireAndVerifyClientCert,
		}
	}
	other := newTestCA(t)
	otherCert, otherKey, _ := other.issue(t, "spiffe://nsmesh.local/nsmgr/nsmgr-1")

	for _, tc := range []struct {
		name   string
		server tls.Certificate
		dir    string
		err    string
	}{
		{name: "both SVIDs of the bundle", server: serverPair, dir: svidDir(t, clientCert, clientKey, ca.bundlePEM())},
		{name: "server of another trust domain", server: serverPair, dir: svidDir(t, otherCert, otherKey, other.bundlePEM()), err: "server SVID"},
		{name: "client of another trust domain", server: serverPair, dir: svidDir(t, otherCert, otherKey, ca.bundlePEM()), err: "call"},
		{name: "server without SPIFFE ID", server: plainPair, dir: svidDir(t, clientCert, clientKey, ca.bundlePEM()), err: "not an X.509-SVID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tg := fakeHealthTLS(t, answerStatus(statusServing), serverConf(tc.server))
			conf, err := transportSecurity(func(k string) string {
				if k == "NSM_SVID_DIR" {
					return tc.dir
				}
				return ""
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			got, err := check(ctx, tg, "", conf)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != statusServing {
				t.Fatalf("got %v, %v; want SERVING", got, err)
			}
		})
	}
	// A plaintext probe of a TLS server fails rather than hanging.
	tg := fakeHealthTLS(t, answerStatus(statusServing), serverConf(serverPair))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := check(ctx, tg, "", nil); err == nil {
		t.Fatal("plaintext probe of a TLS server succeeded")
	}
}
