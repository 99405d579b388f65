// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package devca_test

import (
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"go.uber.org/goleak"

	"github.com/nsmesh/nsmesh/sdk/tools/spiffe"
	"github.com/nsmesh/nsmesh/sdk/tools/spiffe/devca"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var td = spiffeid.RequireTrustDomainFromString("nsmesh.local")

func TestIssuedSVIDVerifiesAgainstBundle(t *testing.T) {
	ca, err := devca.New(td, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	id := spiffeid.RequireFromString("spiffe://nsmesh.local/nsmgr/nsmgr-1")
	svid, err := ca.Issue(id, 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	got, chains, err := x509svid.Verify(svid.Certificates, ca.Bundle())
	if err != nil {
		t.Fatal(err)
	}
	if got != id || len(chains) != 1 {
		t.Fatalf("verified as %s with %d chains", got, len(chains))
	}
	leaf := svid.Certificates[0]
	if leaf.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("key usage %v, want digitalSignature only", leaf.KeyUsage)
	}
	if len(leaf.ExtKeyUsage) != 2 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth || leaf.ExtKeyUsage[1] != x509.ExtKeyUsageClientAuth {
		t.Errorf("extended key usage %v", leaf.ExtKeyUsage)
	}
	if len(leaf.URIs) != 1 || leaf.URIs[0].String() != id.String() {
		t.Errorf("URI SANs %v", leaf.URIs)
	}
	if !leaf.NotAfter.Equal(ca.Certificate().NotAfter) {
		t.Errorf("SVID valid until %s, past the CA's %s", leaf.NotAfter, ca.Certificate().NotAfter)
	}
	// The key goes with the certificate (x509svid checks it on parse).
	cert, key, err := svid.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x509svid.Parse(cert, key); err != nil {
		t.Fatal(err)
	}
}

func TestOtherTrustDomainIsRejected(t *testing.T) {
	ours := devca.MustNew("nsmesh.local")
	theirs := devca.MustNew("evil.example")
	forged := devca.MustNew("nsmesh.local") // same name, another key
	if _, err := ours.Issue(spiffeid.RequireFromString("spiffe://evil.example/nsc/x"), time.Hour); !errors.Is(err, devca.ErrTrustDomain) {
		t.Fatalf("issue outside the trust domain: %v", err)
	}
	for _, tt := range []struct {
		name string
		ca   *devca.CA
		id   string
	}{
		{"other trust domain", theirs, "spiffe://evil.example/nsc/x"},
		{"forged CA of the same trust domain", forged, "spiffe://nsmesh.local/nsc/x"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			svid, err := tt.ca.Issue(spiffeid.RequireFromString(tt.id), time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := x509svid.Verify(svid.Certificates, x509bundle.NewSet(ours.Bundle())); err == nil {
				t.Fatal("an SVID of another CA verified against our bundle")
			}
		})
	}
}

func TestInitIsIdempotent(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	ca, created, err := devca.Init(dir, td, time.Hour, false)
	if err != nil || !created {
		t.Fatalf("first init: created=%v err=%v", created, err)
	}
	assertMode(t, dir, 0o700|os.ModeDir)
	assertMode(t, filepath.Join(dir, devca.CAKeyFile), 0o600)
	again, created, err := devca.Init(dir, td, time.Hour, false)
	if err != nil || created {
		t.Fatalf("second init: created=%v err=%v", created, err)
	}
	if !again.Certificate().Equal(ca.Certificate()) {
		t.Fatal("second init replaced the CA")
	}
	other := spiffeid.RequireTrustDomainFromString("other.local")
	if _, _, err := devca.Init(dir, other, time.Hour, false); !errors.Is(err, devca.ErrExists) {
		t.Fatalf("init for another trust domain: %v, want ErrExists", err)
	}
	replaced, created, err := devca.Init(dir, other, time.Hour, true)
	if err != nil || !created || replaced.TrustDomain() != other {
		t.Fatalf("forced init: created=%v err=%v", created, err)
	}
	loaded, err := devca.Load(dir)
	if err != nil || !loaded.Certificate().Equal(replaced.Certificate()) {
		t.Fatalf("load after force: %v", err)
	}
}

func TestInitRefusesExpiredOrBrokenCA(t *testing.T) {
	dir := t.TempDir()
	ca, err := devca.New(td, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.Save(dir); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	if _, err := ca.Issue(spiffeid.RequireFromString("spiffe://nsmesh.local/nsc/a"), time.Hour); !errors.Is(err, devca.ErrExpired) {
		t.Fatalf("issue from an expired CA: %v", err)
	}
	if _, _, err := devca.Init(dir, td, time.Hour, false); !errors.Is(err, devca.ErrExpired) {
		t.Fatalf("init over an expired CA: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, devca.CAKeyFile), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := devca.Init(dir, td, time.Hour, false); err == nil {
		t.Fatal("init over a broken CA succeeded without force")
	}
	if _, _, err := devca.Init(dir, td, time.Hour, true); err != nil {
		t.Fatalf("forced init over a broken CA: %v", err)
	}
	if _, err := devca.Load(t.TempDir()); !errors.Is(err, devca.ErrNoCA) {
		t.Fatalf("load of an empty directory: %v", err)
	}
}

func TestIssueToDirWritesWhatTheFileSourceReads(t *testing.T) {
	root := t.TempDir()
	ca, _, err := devca.Init(root, td, time.Hour, false)
	if err != nil {
		t.Fatal(err)
	}
	id, err := devca.ConventionalID(td, "forwarder", "fwd-1")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "fwd-1")
	if _, err := ca.IssueToDir(dir, id, time.Hour); err != nil {
		t.Fatal(err)
	}
	assertMode(t, filepath.Join(dir, spiffe.KeyFile), 0o600)
	assertMode(t, filepath.Join(dir, spiffe.SVIDFile), 0o644)
	svid, err := x509svid.Load(filepath.Join(dir, spiffe.SVIDFile), filepath.Join(dir, spiffe.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	bundle, err := x509bundle.Load(td, filepath.Join(dir, spiffe.BundleFile))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := x509svid.Verify(svid.Certificates, bundle); err != nil {
		t.Fatal(err)
	}
	if err := ca.Usable(dir, id, time.Minute); err != nil {
		t.Fatalf("fresh SVID not usable: %v", err)
	}
	for name, err := range map[string]error{
		"other id":      ca.Usable(dir, spiffeid.RequireFromString("spiffe://nsmesh.local/nsc/x"), time.Minute),
		"expires soon":  ca.Usable(dir, id, 2*time.Hour),
		"other CA":      devca.MustNew("nsmesh.local").Usable(dir, id, time.Minute),
		"missing files": ca.Usable(t.TempDir(), id, time.Minute),
	} {
		if err == nil {
			t.Errorf("%s: usable", name)
		}
	}
	// No temporary files are left behind.
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		t.Fatalf("%d files in the SVID directory, want 3", len(entries))
	}
}

func TestParseComponent(t *testing.T) {
	for _, tt := range []struct {
		in, kind, name string
		bad            bool
	}{
		{in: "registry", kind: "registry", name: "registry"},
		{in: "nsmgr-1", kind: "nsmgr", name: "nsmgr-1"},
		{in: "forwarder-node-2", kind: "forwarder", name: "forwarder-node-2"},
		{in: "nse:icmp-server", kind: "nse", name: "icmp-server"},
		{in: " nsc-a ", kind: "nsc", name: "nsc-a"},
		{in: "icmp-server", bad: true},
		{in: "robot:x", bad: true},
		{in: "nse:", bad: true},
		{in: "nse:a/b", bad: true},
		{in: "nsc-..", kind: "nsc", name: "nsc-.."},
		{in: "..", bad: true},
	} {
		kind, name, err := devca.ParseComponent(tt.in)
		if tt.bad {
			if !errors.Is(err, devca.ErrBadName) {
				t.Errorf("%q: %s/%s, %v; want ErrBadName", tt.in, kind, name, err)
			}
			continue
		}
		if err != nil || kind != tt.kind || name != tt.name {
			t.Errorf("%q: %s/%s, %v; want %s/%s", tt.in, kind, name, err, tt.kind, tt.name)
		}
	}
	if id, err := devca.ConventionalID(td, "nsmgr", "nsmgr-1"); err != nil || id.String() != "spiffe://nsmesh.local/nsmgr/nsmgr-1" {
		t.Fatalf("conventional id %s, %v", id, err)
	}
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode() != want {
		t.Errorf("%s has mode %v, want %v", path, st.Mode(), want)
	}
}
