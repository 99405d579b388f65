// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"go.uber.org/goleak"

	"github.com/nsmesh/nsmesh/sdk/tools/spiffe/devca"
)

// The test binary doubles as the command when this variable is set, so that
// exit codes and signals are tested on a real process.
const runMain = "CMD_REGISTRY_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMain) == "1" {
		main()
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

func command(env ...string) (*exec.Cmd, *bytes.Buffer) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{runMain + "=1"}, env...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	return cmd, &out
}

func TestBadConfigurationExitsWithTwo(t *testing.T) {
	tests := []struct{ env, want string }{
		{"NSM_LISTEN_ON=foo", `cmd-registry: NSM_LISTEN_ON: bad URL "foo": scheme must be unix or tcp` + "\n"},
		{"NSM_EXPIRE_PERIOD=soon", `cmd-registry: NSM_EXPIRE_PERIOD: bad value "soon": time: invalid duration "soon"` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			cmd, out := command(tt.env)
			err := cmd.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 2 {
				t.Fatalf("exit: %v, want code 2; output %q", err, out)
			}
			if out.String() != tt.want {
				t.Fatalf("output %q, want %q", out, tt.want)
			}
		})
	}
}

func TestSIGTERMStopsCleanly(t *testing.T) {
	dir, err := os.MkdirTemp("", "cmdreg")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = os.RemoveAll(dir) }()
	sock := filepath.Join(dir, "registry.sock")
	// The real start path: mTLS with an SVID directory.
	svid := filepath.Join(dir, "svid")
	if _, err := devca.MustNew("nsmesh.local").IssueToDir(svid, spiffeid.RequireFromString("spiffe://nsmesh.local/registry/registry"), time.Hour); err != nil {
		t.Fatal(err)
	}
	cmd, out := command("NSM_LISTEN_ON=unix://"+sock, "NSM_SVID_DIR="+svid, "NSM_INSECURE=", "SPIFFE_ENDPOINT_SOCKET=")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("no socket; output:\n%s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err := <-waited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v; output:\n%s", err, out)
		}
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-waited
		t.Fatalf("still running 10s after SIGTERM; output:\n%s", out)
	}
	if !strings.Contains(out.String(), "stopped") || !strings.Contains(out.String(), "identity: mTLS with X.509-SVID") {
		t.Fatalf("no identity or stop line in output:\n%s", out)
	}
}

// Without an identity the registry does not start: one line naming the
// variables, exit code 2.
func TestNoIdentityExitsWithTwo(t *testing.T) {
	cmd, out := command("SPIFFE_ENDPOINT_SOCKET=", "NSM_SVID_DIR=", "NSM_INSECURE=", "NSM_LISTEN_ON=unix:///tmp/never.sock")
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Fatalf("exit: %v, want code 2; output %q", err, out)
	}
	want := "cmd-registry: spiffe: no identity: set SPIFFE_ENDPOINT_SOCKET (SPIFFE Workload API), NSM_SVID_DIR (a directory with svid.pem, svid_key.pem, bundle.pem; `nsmctl devca` makes one) or NSM_INSECURE=true (plaintext, development only)\n"
	if out.String() != want {
		t.Fatalf("output %q, want %q", out, want)
	}
}
