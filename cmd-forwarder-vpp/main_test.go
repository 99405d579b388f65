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

	"go.uber.org/goleak"

	"github.com/nsmesh/nsmesh/sdk/tools/command/commandtest"
)

// The test binary doubles as the command when this variable is set, so that
// exit codes are tested on a real process.
const runMain = "FORWARDER_VPP_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if commandtest.IsChild(runMain) {
		main()
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

func TestBadConfigurationExitsWithTwo(t *testing.T) {
	for _, tt := range []struct{ env, want string }{
		{"NSM_VPP_INIT=AF_XDP", `forwarder-vpp: config: NSM_VPP_INIT="AF_XDP": AF_XDP is not implemented yet; use AF_PACKET, or NONE and give VPP its uplink yourself (NSM_TUNNEL_IP is then an address VPP owns)` + "\n"},
		{"NSM_VPP_MIN_OPERATION_TIMEOUT=-1s", `forwarder-vpp: config: NSM_VPP_MIN_OPERATION_TIMEOUT="-1s": must be positive` + "\n"},
		{"NSM_NAME=fwd", "forwarder-vpp: config: spiffe: no identity: set SPIFFE_ENDPOINT_SOCKET (SPIFFE Workload API), NSM_SVID_DIR (a directory with svid.pem, svid_key.pem, bundle.pem; `nsmctl devca` makes one) or NSM_INSECURE=true (plaintext, development only)\n"},
	} {
		t.Run(tt.env, func(t *testing.T) {
			cmd, out := commandtest.Child(runMain, tt.env)
			err := cmd.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 2 {
				t.Fatalf("exit: %v, want code 2; output %q", err, out)
			}
			if out.String() != tt.want {
				t.Fatalf("output %q\nwant   %q", out, tt.want)
			}
		})
	}
}

// Without an external VPP's socket and without a vpp executable the
// forwarder fails at start, saying what is missing, rather than serving
// without a data plane.
func TestNoVPPExitsWithOne(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "external", "vpp-api.sock")
	cmd, out := commandtest.Child(runMain, "NSM_INSECURE=true", "NSM_VPP_API_SOCKET="+sock,
		"NSM_VPP_BINARY=vpp-not-installed", "NSM_VPP_ROOT_DIR="+filepath.Join(dir, "root"),
		"NSM_LISTEN_ON=unix://"+filepath.Join(dir, "fwd.sock"), "NSM_CONNECT_TO=unix://"+filepath.Join(dir, "nsmgr.sock"))
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("exit: %v, want code 1; output %q", err, out)
	}
	want := "forwarder-vpp: app: no VPP: nothing to attach to at NSM_VPP_API_SOCKET=" + sock +
		" and none to start (NSM_VPP_BINARY=vpp-not-installed not found); mount an external VPP's API socket there or install VPP (the image does not contain it)"
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if last := lines[len(lines)-1]; last != want {
		t.Fatalf("last line %q\nwant      %q\noutput:\n%s", last, want, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "fwd.sock")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("it served without VPP: %v", err)
	}
}

func TestHelpListsTheVariables(t *testing.T) {
	cmd, out := commandtest.Child(runMain)
	cmd.Args = append(cmd.Args[:1], "-h")
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for _, k := range []string{"NSM_VPP_API_SOCKET", "NSM_VPP_INIT", "NSM_TUNNEL_IP", "NSM_SVID_DIR"} {
		if !strings.Contains(out.String(), k) {
			t.Errorf("-h lacks %s:\n%s", k, out)
		}
	}
}
