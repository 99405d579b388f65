// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package devca

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/nsmesh/nsmesh/sdk/tools/spiffe"
)

// Files of a CA directory. Each component's SVID goes into <dir>/<name>/
// with the files spiffe.NewFileSource reads.
const (
	CAFile    = "ca.pem"
	CAKeyFile = "ca_key.pem"
)

// Save writes the CA into dir (created 0700): CAFile (0644) and CAKeyFile
// (0600). Existing files are replaced.
func (ca *CA) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("devca: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(ca.key)
	if err != nil {
		return fmt.Errorf("devca: CA key: %w", err)
	}
	if err := writeAtomic(filepath.Join(dir, CAKeyFile), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, CAFile), certsPEM(ca.cert), 0o644)
}

// Load reads the CA that Save wrote into dir. A directory without CAFile is
// ErrNoCA.
func Load(dir string) (*CA, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, CAFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w in %s (create one with: nsmctl devca init --dir %s --trust-domain <domain>)", ErrNoCA, dir, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("devca: %w", err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, CAKeyFile))
	if err != nil {
		return nil, fmt.Errorf("devca: CA key: %w", err)
	}
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("devca: %s: no PEM certificate", filepath.Join(dir, CAFile))
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("devca: %s: %w", filepath.Join(dir, CAFile), err)
	}
	if !cert.IsCA || len(cert.URIs) != 1 {
		return nil, fmt.Errorf("devca: %s is not a SPIFFE CA certificate", filepath.Join(dir, CAFile))
	}
	td, err := spiffeid.TrustDomainFromURI(cert.URIs[0])
	if err != nil {
		return nil, fmt.Errorf("devca: %s: %w", filepath.Join(dir, CAFile), err)
	}
	kblock, _ := pem.Decode(keyPEM)
	if kblock == nil {
		return nil, fmt.Errorf("devca: %s: no PEM key", filepath.Join(dir, CAKeyFile))
	}
	k, err := x509.ParsePKCS8PrivateKey(kblock.Bytes)
	if err != nil {
		return nil, fmt.Errorf("devca: %s: %w", filepath.Join(dir, CAKeyFile), err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok || !key.PublicKey.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("devca: %s does not belong to %s", filepath.Join(dir, CAKeyFile), filepath.Join(dir, CAFile))
	}
	return &CA{td: td, cert: cert, key: key}, nil
}

// Init returns the CA of dir, creating it for td when there is none. An
// existing CA is kept (created false) unless force is set; without force a
// CA of another trust domain, an expired or an unreadable one is an error,
// since replacing it invalidates every SVID issued from it.
func Init(dir string, td spiffeid.TrustDomain, ttl time.Duration, force bool) (ca *CA, created bool, err error) {
	if !force {
		old, err := Load(dir)
		switch {
		case err == nil && old.td != td:
			return nil, false, fmt.Errorf("%w in %s for trust domain %s, not %s; use --force to replace it (every SVID must then be issued again)",
				ErrExists, dir, old.td, td)
		case err == nil && !time.Now().Before(old.cert.NotAfter):
			return nil, false, fmt.Errorf("%w: the CA in %s expired at %s; use --force to replace it",
				ErrExpired, dir, old.cert.NotAfter.UTC().Format(time.RFC3339))
		case err == nil:
			return old, false, nil
		case !errors.Is(err, ErrNoCA):
			return nil, false, fmt.Errorf("%w; use --force to replace it", err)
		}
	}
	if ca, err = New(td, ttl); err != nil {
		return nil, false, err
	}
	if err := ca.Save(dir); err != nil {
		return nil, false, err
	}
	return ca, true, nil
}

// WriteSVID writes svid and bundle into dir (created 0700) as the files
// spiffe.NewFileSource reads: the key 0600, the others 0644. Each file is
// replaced atomically, the bundle first and the certificate last, so that a
// reader never sees a certificate whose key or CA is not there yet.
func WriteSVID(dir string, svid *x509svid.SVID, bundle *x509bundle.Bundle) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("devca: %w", err)
	}
	certPEM, keyPEM, err := svid.Marshal()
	if err != nil {
		return fmt.Errorf("devca: %w", err)
	}
	bundlePEM, err := bundle.Marshal()
	if err != nil {
		return fmt.Errorf("devca: %w", err)
	}
	if err := writeAtomic(filepath.Join(dir, spiffe.BundleFile), bundlePEM, 0o644); err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(dir, spiffe.KeyFile), keyPEM, 0o600); err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, spiffe.SVIDFile), certPEM, 0o644)
}

// IssueToDir issues an SVID for id and writes it with the CA's bundle into
// dir.
func (ca *CA) IssueToDir(dir string, id spiffeid.ID, ttl time.Duration) (*x509svid.SVID, error) {
	svid, err := ca.Issue(id, ttl)
	if err != nil {
		return nil, err
	}
	return svid, WriteSVID(dir, svid, ca.Bundle())
}

// Usable reports why the SVID in dir should be issued again (nil when it
// should not): it is missing, unreadable, not id, not signed by this CA or
// valid for less than minRemaining.
func (ca *CA) Usable(dir string, id spiffeid.ID, minRemaining time.Duration) error {
	svid, err := x509svid.Load(filepath.Join(dir, spiffe.SVIDFile), filepath.Join(dir, spiffe.KeyFile))
	if err != nil {
		return err
	}
	if svid.ID != id {
		return fmt.Errorf("it is for %s", svid.ID)
	}
	if _, _, err := x509svid.Verify(svid.Certificates, ca.Bundle()); err != nil {
		return err
	}
	if left := time.Until(svid.Certificates[0].NotAfter); left < minRemaining {
		return fmt.Errorf("it expires in %s", left.Round(time.Second))
	}
	return nil
}

func certsPEM(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

// writeAtomic replaces path with data: a reader sees the old file or the
// new one, never a part.
func writeAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("devca: %w", err)
	}
	tmp := f.Name()
	defer func() { _ = os.Remove(tmp) }() // a no-op after the rename
	if err := f.Chmod(mode); err != nil {
		_ = f.Close()
		return fmt.Errorf("devca: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return fmt.Errorf("devca: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("devca: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("devca: write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("devca: %w", err)
	}
	return nil
}
