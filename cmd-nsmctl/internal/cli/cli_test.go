// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package cli_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"go.uber.org/goleak"

	"github.com/nsmesh/nsmesh/cmd-nsmctl/internal/cli"
	"github.com/nsmesh/nsmesh/sdk/tools/spiffe"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = cli.Run(args, &o, &e)
	return code, o.String(), e.String()
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := run(t, args...)
	if code != cli.ExitOK {
		t.Fatalf("nsmctl %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// bundleOf reads the trust bundle `nsmctl devca bundle` prints.
func bundleOf(t *testing.T, dir, td string) *x509bundle.Bundle {
	t.Helper()
	b, err := x509bundle.Parse(spiffeid.RequireTrustDomainFromString(td), []byte(mustRun(t, "devca", "bundle", "--dir", dir)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func load(t *testing.T, dir string) *x509svid.SVID {
	t.Helper()
	svid, err := x509svid.Load(filepath.Join(dir, spiffe.SVIDFile), filepath.Join(dir, spiffe.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	return svid
}

func TestInitIssuesVerifiableSVIDsForEveryComponent(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "td")
	out := mustRun(t, "devca", "init", "--dir", dir, "--components", "registry,nsmgr-1,forwarder-1,nse:icmp-server,nsc-a")
	if !strings.Contains(out, "created CA of trust domain nsmesh.local") {
		t.Fatalf("output %q", out)
	}
	bundle := bundleOf(t, dir, "nsmesh.local")
	for name, want := range map[string]string{
		"registry":    "spiffe://nsmesh.local/registry/registry",
		"nsmgr-1":     "spiffe://nsmesh.local/nsmgr/nsmgr-1",
		"forwarder-1": "spiffe://nsmesh.local/forwarder/forwarder-1",
		"icmp-server": "spiffe://nsmesh.local/nse/icmp-server",
		"nsc-a":       "spiffe://nsmesh.local/nsc/nsc-a",
	} {
		svid := load(t, filepath.Join(dir, name))
		got, _, err := x509svid.Verify(svid.Certificates, bundle)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got.String() != want {
			t.Errorf("%s has %s, want %s", name, got, want)
		}
		st, err := os.Stat(filepath.Join(dir, name, spiffe.KeyFile))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s key mode %v, %v", name, st.Mode(), err)
		}
	}
	show := mustRun(t, "devca", "show", "--dir", dir)
	if strings.Count(show, " ok\n") != 5 {
		t.Fatalf("show:\n%s", show)
	}
}

func TestInitIsIdempotentAndForceReplaces(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, "devca", "init", "--dir", dir, "--components", "nsmgr-1")
	before, err := os.ReadFile(filepath.Join(dir, "nsmgr-1", spiffe.SVIDFile))
	if err != nil {
		t.Fatal(err)
	}
	caBefore := mustRun(t, "devca", "bundle", "--dir", dir)
	out := mustRun(t, "devca", "init", "--dir", dir, "--components", "nsmgr-1,nsc-1")
	if !strings.Contains(out, "kept the CA") || !strings.Contains(out, "kept "+filepath.Join(dir, "nsmgr-1")) || !strings.Contains(out, "issued "+filepath.Join(dir, "nsc-1")) {
		t.Fatalf("second init said %q", out)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "nsmgr-1", spiffe.SVIDFile))
	if !bytes.Equal(before, after) || mustRun(t, "devca", "bundle", "--dir", dir) != caBefore {
		t.Fatal("second init replaced the CA or a valid SVID")
	}

	code, _, errOut := run(t, "devca", "init", "--dir", dir, "--trust-domain", "other.local")
	if code != cli.ExitFail || !strings.Contains(errOut, "--force") || strings.Count(errOut, "\n") != 1 {
		t.Fatalf("init over another trust domain: exit %d, %q", code, errOut)
	}

	mustRun(t, "devca", "init", "--dir", dir, "--trust-domain", "other.local", "--force", "--components", "nsmgr-1")
	svid := load(t, filepath.Join(dir, "nsmgr-1"))
	if svid.ID.String() != "spiffe://other.local/nsmgr/nsmgr-1" {
		t.Fatalf("after --force: %s", svid.ID)
	}
	if _, _, err := x509svid.Verify(svid.Certificates, bundleOf(t, dir, "other.local")); err != nil {
		t.Fatal(err)
	}
}

func TestIssue(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, "devca", "init", "--dir", dir)
	mustRun(t, "devca", "issue", "--dir", dir, "--name", "nsmgr-1", "--ttl", "1h")
	mustRun(t, "devca", "issue", "--dir", dir, "--name", "web", "--spiffe-id", "spiffe://nsmesh.local/ns/prod/sa/web")
	bundle := bundleOf(t, dir, "nsmesh.local")
	for name, want := range map[string]string{"nsmgr-1": "spiffe://nsmesh.local/nsmgr/nsmgr-1", "web": "spiffe://nsmesh.local/ns/prod/sa/web"} {
		svid := load(t, filepath.Join(dir, name))
		if got, _, err := x509svid.Verify(svid.Certificates, bundle); err != nil || got.String() != want {
			t.Fatalf("%s: %s, %v", name, got, err)
		}
	}
	// Issuing again rotates: a new key and certificate.
	first := load(t, filepath.Join(dir, "nsmgr-1"))
	mustRun(t, "devca", "issue", "--dir", dir, "--name", "nsmgr-1")
	if second := load(t, filepath.Join(dir, "nsmgr-1")); second.Certificates[0].Equal(first.Certificates[0]) {
		t.Fatal("issue did not replace the SVID")
	}
}

func TestWrongTrustDomainIsRejected(t *testing.T) {
	ours, theirs := t.TempDir(), t.TempDir()
	mustRun(t, "devca", "init", "--dir", ours, "--components", "nsc-1")
	mustRun(t, "devca", "init", "--dir", theirs, "--trust-domain", "evil.example", "--components", "nsc-1")
	foreign := load(t, filepath.Join(theirs, "nsc-1"))
	if _, _, err := x509svid.Verify(foreign.Certificates, bundleOf(t, ours, "nsmesh.local")); err == nil {
		t.Fatal("an SVID of another trust domain verified against ours")
	}
	code, _, errOut := run(t, "devca", "issue", "--dir", ours, "--name", "x", "--spiffe-id", "spiffe://evil.example/nsc/x")
	if code != cli.ExitFail || !strings.Contains(errOut, "wrong trust domain") {
		t.Fatalf("issue for another trust domain: exit %d, %q", code, errOut)
	}
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "no command"},
		{[]string{"frob"}, `unknown command "frob"`},
		{[]string{"devca"}, "needs a subcommand"},
		{[]string{"devca", "sign"}, `unknown devca subcommand "sign"`},
		{[]string{"devca", "init"}, "--dir is required"},
		{[]string{"devca", "init", "--dir", dir, "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"devca", "init", "--dir", dir, "--components", "icmp-server"}, "write kind:name"},
		{[]string{"devca", "init", "--dir", dir, "--components", "nsc-1,nsc-1"}, "listed twice"},
		{[]string{"devca", "init", "--dir", dir, "--trust-domain", "Not Valid"}, "--trust-domain"},
		{[]string{"devca", "init", "--dir", dir, "--ttl", "-1h"}, "must be positive"},
		{[]string{"devca", "issue", "--dir", dir}, "--name is required"},
		{[]string{"devca", "issue", "--dir", dir, "--name", "x", "--spiffe-id", "not-an-id"}, "--spiffe-id"},
		{[]string{"devca", "show", "--dir", dir, "extra"}, `unexpected argument "extra"`},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			if tt.args != nil && tt.args[0] == "devca" && len(tt.args) > 1 && tt.args[1] == "issue" {
				mustRun(t, "devca", "init", "--dir", dir)
			}
			code, _, errOut := run(t, tt.args...)
			if code != cli.ExitUsage || !strings.Contains(errOut, tt.want) {
				t.Fatalf("exit %d, %q; want %d with %q", code, errOut, cli.ExitUsage, tt.want)
			}
		})
	}
	// Without a CA, issue explains how to make one.
	code, _, errOut := run(t, "devca", "issue", "--dir", t.TempDir(), "--name", "nsc-1")
	if code != cli.ExitFail || !strings.Contains(errOut, "nsmctl devca init") {
		t.Fatalf("issue without a CA: exit %d, %q", code, errOut)
	}
	if code, out, _ := run(t, "-h"); code != cli.ExitOK || !strings.Contains(out, "nsmctl devca init") {
		t.Fatalf("help: %d %q", code, out)
	}
}
