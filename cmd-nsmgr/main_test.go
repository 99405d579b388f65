// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A bad configuration is one line on stderr and exit code 2.
func TestBadConfigurationExitsTwo(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "cmd-nsmgr")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "NSM_LISTEN_ON=ftp://nowhere")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Fatalf("exit = %v, want code 2; output %q", err, out)
	}
	if lines := strings.Split(strings.TrimSpace(string(out)), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "cmd-nsmgr: NSM_LISTEN_ON:") {
		t.Fatalf("output %q, want one line naming NSM_LISTEN_ON", out)
	}
}

// Without an identity the nsmgr refuses to start: one line naming the
// variables that give it one, exit code 2.
func TestNoIdentityExitsTwo(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "cmd-nsmgr")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "SPIFFE_ENDPOINT_SOCKET=", "NSM_SVID_DIR=", "NSM_INSECURE=", "NSM_LISTEN_ON=unix:///tmp/x.sock,tcp://127.0.0.1:0")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Fatalf("exit = %v, want code 2; output %q", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "cmd-nsmgr: spiffe: no identity: set SPIFFE_ENDPOINT_SOCKET") || !strings.Contains(lines[0], "NSM_SVID_DIR") || !strings.Contains(lines[0], "NSM_INSECURE=true") {
		t.Fatalf("output %q, want one line naming the identity variables", out)
	}
}
