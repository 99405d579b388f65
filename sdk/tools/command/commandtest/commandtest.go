// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package commandtest runs a binary's own test executable as the binary, so
// that exit codes, stderr lines and signals are tested on a real process:
//
//	func TestMain(m *testing.M) {
//		if commandtest.IsChild("NSC_TEST_RUN_MAIN") {
//			main()
//			os.Exit(0)
//		}
//		goleak.VerifyTestMain(m)
//	}
//
//	cmd, out := commandtest.Child("NSC_TEST_RUN_MAIN", "NSM_NAME=x")
package commandtest

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"sync"
)

// IsChild reports whether this test executable was started by Child with the
// marker variable runMain, i.e. should run the command's main.
func IsChild(runMain string) bool { return os.Getenv(runMain) == "1" }

// Output collects a child's stdout and stderr while it runs.
type Output struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

// String returns what the child wrote so far.
func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

// Child returns the test executable as a command that runs main (see
// IsChild), with the NSM_* and SPIFFE_ENDPOINT_SOCKET variables of this
// process removed and env added, and its output collected.
func Child(runMain string, env ...string) (*exec.Cmd, *Output) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	var clean []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NSM_") && !strings.HasPrefix(kv, "SPIFFE_ENDPOINT_SOCKET=") {
			clean = append(clean, kv)
		}
	}
	cmd.Env = append(clean, append([]string{runMain + "=1"}, env...)...)
	out := &Output{}
	cmd.Stdout, cmd.Stderr = out, out
	return cmd, out
}
