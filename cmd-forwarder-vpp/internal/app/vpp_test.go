// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package app_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/nsmesh/nsmesh/cmd-forwarder-vpp/internal/app"
	"github.com/nsmesh/nsmesh/cmd-forwarder-vpp/internal/config"
)

// vppConfig is the VPP section of a configuration whose files all live in a
// fresh directory.
func vppConfig(t *testing.T) config.VPP {
	dir := t.TempDir()
	return config.VPP{
		APISocket:           filepath.Join(dir, "external", "vpp-api.sock"),
		Init:                config.InitNone,
		MinOperationTimeout: 2 * time.Second,
		Binary:              filepath.Join(dir, "no-vpp-here"),
		RootDir:             filepath.Join(dir, "root"),
	}
}

func TestStartOrAttach(t *testing.T) {
	log, _ := logtest.NewNullLogger()

	t.Run("external socket: attach", func(t *testing.T) {
		cfg := vppConfig(t)
		if err := os.MkdirAll(filepath.Dir(cfg.APISocket), 0o755); err != nil {
			t.Fatal(err)
		}
		l, err := net.Listen("unix", cfg.APISocket)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = l.Close() }()
		sock, local, err := app.StartOrAttach(context.Background(), cfg, log)
		if err != nil || sock != cfg.APISocket || local != nil {
			t.Fatalf("%q, %v, %v; want to attach to %s", sock, local, err, cfg.APISocket)
		}
		if _, err := os.Stat(cfg.RootDir); !os.IsNotExist(err) {
			t.Errorf("local VPP files written while attaching: %v", err)
		}
	})

	t.Run("not a socket", func(t *testing.T) {
		cfg := vppConfig(t)
		if err := os.MkdirAll(cfg.APISocket, 0o755); err != nil {
			t.Fatal(err)
		}
		if _, _, err := app.StartOrAttach(context.Background(), cfg, log); err == nil || !strings.Contains(err.Error(), "is not a socket") {
			t.Fatalf("%v, want a refusal", err)
		}
	})

	t.Run("no VPP at all", func(t *testing.T) {
		cfg := vppConfig(t)
		_, _, err := app.StartOrAttach(context.Background(), cfg, log)
		want := "app: no VPP: nothing to attach to at NSM_VPP_API_SOCKET=" + cfg.APISocket + " and none to start (NSM_VPP_BINARY=" + cfg.Binary +
			" not found); mount an external VPP's API socket there or install VPP (the image does not contain it)"
		if err == nil || err.Error() != want {
			t.Fatalf("%v\nwant %s", err, want)
		}
	})

	t.Run("local VPP", func(t *testing.T) {
		cfg := vppConfig(t)
		cfg.Binary = filepath.Join(t.TempDir(), "vpp")
		// Stands in for vpp until SIGTERM.
		if err := os.WriteFile(cfg.Binary, []byte("#!/bin/sh\ntrap 'exit 0' TERM\nwhile :; do sleep 0.02; done\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		sock, local, err := app.StartOrAttach(context.Background(), cfg, log)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = local.Close() }()
		if want := filepath.Join(cfg.RootDir, "var/run/vpp/api.sock"); sock != want || local == nil {
			t.Fatalf("%q, %v; want the local VPP's %s", sock, local, want)
		}
		if _, err := os.Stat(filepath.Join(cfg.RootDir, "etc/vpp/helper/vpp.conf")); err != nil {
			t.Errorf("no configuration written: %v", err)
		}
	})

	t.Run("local socket served by another VPP", func(t *testing.T) {
		cfg := vppConfig(t)
		cfg.Binary = "/bin/true"
		sock := filepath.Join(cfg.RootDir, "var/run/vpp/api.sock")
		if err := os.MkdirAll(filepath.Dir(sock), 0o755); err != nil {
			t.Fatal(err)
		}
		l, err := net.Listen("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = l.Close() }()
		_, _, err = app.StartOrAttach(context.Background(), cfg, log)
		if err == nil || !strings.Contains(err.Error(), "attach to it with NSM_VPP_API_SOCKET="+sock) {
			t.Fatalf("%v, want the hint to attach", err)
		}
	})
}

// TestREADMEQuotesTheNoVPPError checks the line the README quotes for a
// machine with neither an external VPP nor a vpp executable, with the
// defaults.
func TestREADMEQuotesTheNoVPPError(t *testing.T) {
	cfg := config.VPP{APISocket: "/var/run/vpp/external/vpp-api.sock", Binary: "vpp", RootDir: t.TempDir()}
	if _, err := os.Stat(cfg.APISocket); err == nil {
		t.Skip("this machine has an external VPP socket at the default path")
	}
	if _, err := exec.LookPath(cfg.Binary); err == nil {
		t.Skip("this machine has a vpp executable: the forwarder would start it")
	}
	log, _ := logtest.NewNullLogger()
	_, _, err := app.StartOrAttach(context.Background(), cfg, log)
	if err == nil {
		t.Fatal("no error without VPP")
	}
	readme, rerr := os.ReadFile("../../README.md")
	if rerr != nil {
		t.Fatal(rerr)
	}
	if line := "`forwarder-vpp: " + err.Error() + "`"; !strings.Contains(string(readme), line) {
		t.Errorf("README does not quote the error as it is: %s", line)
	}
}
