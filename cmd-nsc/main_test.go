// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package main

import (
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

	"github.com/nsmesh/nsmesh/sdk/tools/command/commandtest"
	"github.com/nsmesh/nsmesh/sdk/tools/spiffe/devca"
)

// The test binary doubles as the command when this variable is set, so that
// exit codes and signals are tested on a real process.
const runMain = "NSC_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if commandtest.IsChild(runMain) {
		main()
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

func child(env ...string) (*exec.Cmd, *commandtest.Output) {
	return commandtest.Child(runMain, env...)
}

func TestBadConfigurationExitsWithTwo(t *testing.T) {
	for _, tt := range []struct {
		env  []string
		want string
	}{
		{nil, `nsc: config: NSM_NETWORK_SERVICES="": required: at least one network service URL such as kernel://my-service` + "\n"},
		{[]string{"NSM_NETWORK_SERVICES=memif://red"}, `nsc: config: NSM_NETWORK_SERVICES="memif://red": memif://red: only kernel:// is supported` + "\n"},
		{[]string{"NSM_NETWORK_SERVICES=kernel://red"}, "nsc: config: spiffe: no identity: set SPIFFE_ENDPOINT_SOCKET (SPIFFE Workload API), NSM_SVID_DIR (a directory with svid.pem, svid_key.pem, bundle.pem; `nsmctl devca` makes one) or NSM_INSECURE=true (plaintext, development only)\n"},
	} {
		t.Run(strings.Join(tt.env, " "), func(t *testing.T) {
			cmd, out := child(tt.env...)
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

func TestHelpListsTheVariables(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-h")
	cmd.Env = append(os.Environ(), runMain+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "NSM_NETWORK_SERVICES") {
		t.Fatalf("%v: %s", err, out)
	}
}

// With no nsmgr the client keeps trying and says why; SIGTERM stops it with
// exit status 0.
func TestSIGTERMWhileWaitingForTheNSMgr(t *testing.T) {
	dir, err := os.MkdirTemp("", "nsc")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = os.RemoveAll(dir) }()
	// The real start path: mTLS with an SVID directory.
	svid := filepath.Join(dir, "svid")
	if _, err := devca.MustNew("nsmesh.local").IssueToDir(svid, spiffeid.RequireFromString("spiffe://nsmesh.local/nsc/nsc"), time.Hour); err != nil {
		t.Fatal(err)
	}
	cmd, out := child("NSM_NETWORK_SERVICES=kernel://red", "NSM_CONNECT_TO=unix://"+filepath.Join(dir, "nsm.io.sock"), "NSM_SVID_DIR="+svid)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(out.String(), "is not reachable"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("no failed attempt reported; output:\n%s", out)
		}
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
	if !strings.Contains(out.String(), "shutting down") {
		t.Fatalf("no shutdown line in output:\n%s", out)
	}
}
