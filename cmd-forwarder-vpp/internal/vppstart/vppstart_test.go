// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package vppstart_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"go.uber.org/goleak"

	"github.com/nsmesh/nsmesh/cmd-forwarder-vpp/internal/vppstart"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRender(t *testing.T) {
	for _, tt := range []struct {
		golden string
		p      vppstart.Params
	}{
		{"vpp.conf.golden", vppstart.Params{RootDir: "/", Group: "vpp", BufferDataSize: 3776}},
		{"vpp-nogroup-arm64.conf.golden", vppstart.Params{RootDir: "/var/lib/nsm-vpp", BufferDataSize: 3712}},
	} {
		t.Run(tt.golden, func(t *testing.T) {
			got := vppstart.Render(tt.p)
			file := filepath.Join("testdata", tt.golden)
			if *update {
				if err := os.WriteFile(file, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("rendered configuration differs from %s (go test -update rewrites it):\n%s", file, got)
			}
		})
	}
}

func TestParams(t *testing.T) {
	p := vppstart.DefaultParams("/r")
	if p.RootDir != "/r" || (p.BufferDataSize != 3776 && p.BufferDataSize != 3712) {
		t.Errorf("%+v", p)
	}
	for got, want := range map[string]string{
		p.ConfigFile(): "/r/etc/vpp/helper/vpp.conf", p.APISocket(): "/r/var/run/vpp/api.sock",
		p.CLISocket(): "/r/var/run/vpp/cli.sock", p.StatsSocket(): "/r/var/run/vpp/stats.sock", p.LogFile(): "/r/var/log/vpp/vpp.log",
	} {
		if got != want {
			t.Errorf("%s, want %s", got, want)
		}
	}
	if root := vppstart.DefaultParams("/"); root.APISocket() != "/var/run/vpp/api.sock" {
		t.Errorf("root / gives %s", root.APISocket())
	}
}

func TestStartWithoutBinary(t *testing.T) {
	root := t.TempDir()
	log, _ := logtest.NewNullLogger()
	for _, bin := range []string{"nsmesh-no-such-vpp", filepath.Join(root, "bin", "vpp")} {
		_, err := vppstart.Start(context.Background(), bin, vppstart.DefaultParams(root), log)
		if !errors.Is(err, vppstart.ErrNoBinary) || !strings.Contains(err.Error(), bin) {
			t.Errorf("%s: %v, want ErrNoBinary naming it", bin, err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "etc")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("files written without a VPP to start: %v", err)
	}
}

// fakeVPP writes a shell script standing in for vpp: it prints its
// arguments, runs trap (signal handling), copies the configuration it was
// given to seen.conf (so a test that waited for seen.conf knows the trap is
// in place) and then runs body.
func fakeVPP(t *testing.T, trap, body string) (bin, seen string) {
	t.Helper()
	dir := t.TempDir()
	bin, seen = filepath.Join(dir, "vpp"), filepath.Join(dir, "seen.conf")
	script := "#!/bin/sh\necho \"args: $*\"\n" + trap + "\ncp \"$2\" " + seen + "\n" + body + "\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin, seen
}

// Runs until SIGTERM, which it reports.
const (
	trapTERM = "trap 'echo got TERM; exit 0' TERM"
	forever  = "while :; do sleep 0.02; done"
)

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func logged(hook *logtest.Hook, msg string) bool {
	for _, e := range hook.AllEntries() {
		if e.Message == msg {
			return true
		}
	}
	return false
}

func TestStartRunsVPPWithTheConfiguration(t *testing.T) {
	bin, seen := fakeVPP(t, trapTERM, forever)
	p := vppstart.Params{RootDir: t.TempDir(), BufferDataSize: 3776}
	log, hook := logtest.NewNullLogger()
	v, err := vppstart.Start(context.Background(), bin, p, log)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the configuration", func() bool { _, err := os.Stat(seen); return err == nil })
	got, err := os.ReadFile(seen)
	if err != nil || !bytes.Equal(got, vppstart.Render(p)) {
		t.Errorf("VPP was given %q (%v), want the rendered configuration", got, err)
	}
	// VPP's output reaches the log through a pipe, a moment later.
	waitFor(t, "VPP's output line with its arguments", func() bool { return logged(hook, "args: -c "+p.ConfigFile()) })
	for _, d := range []string{p.APISocket(), p.LogFile()} {
		if st, err := os.Stat(filepath.Dir(d)); err != nil || !st.IsDir() {
			t.Errorf("directory of %s: %v", d, err)
		}
	}
	select {
	case <-v.Done():
		t.Fatalf("VPP exited: %v", v.Err())
	default:
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	<-v.Done()
	if !logged(hook, "got TERM") || !logged(hook, "local VPP stopped") {
		t.Errorf("VPP was not stopped with SIGTERM: %v", hook.AllEntries())
	}
	if err := v.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestExistingConfigurationIsKept(t *testing.T) {
	bin, seen := fakeVPP(t, trapTERM, forever)
	p := vppstart.Params{RootDir: t.TempDir(), BufferDataSize: 3776}
	own := []byte("unix { nodaemon }\n")
	if err := os.MkdirAll(filepath.Dir(p.ConfigFile()), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.ConfigFile(), own, 0o600); err != nil {
		t.Fatal(err)
	}
	log, hook := logtest.NewNullLogger()
	v, err := vppstart.Start(context.Background(), bin, p, log)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = v.Close() }()
	waitFor(t, "the configuration", func() bool { _, err := os.Stat(seen); return err == nil })
	if got, _ := os.ReadFile(seen); !bytes.Equal(got, own) {
		t.Errorf("VPP was given %q, want the operator's file", got)
	}
	if !logged(hook, "local VPP: using the existing configuration file") {
		t.Error("keeping the file is not logged")
	}
}

func TestDoneWhenVPPDies(t *testing.T) {
	bin, _ := fakeVPP(t, "", "echo 'vpp: cannot open the API socket' >&2\nexit 3")
	log, hook := logtest.NewNullLogger()
	v, err := vppstart.Start(context.Background(), bin, vppstart.Params{RootDir: t.TempDir(), BufferDataSize: 3776}, log)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-v.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Done not closed after VPP exited")
	}
	if err := v.Err(); err == nil || !strings.Contains(err.Error(), "exited: exit status 3") {
		t.Errorf("Err %v, want the exit status", err)
	}
	if err := v.Close(); err == nil || err.Error() != v.Err().Error() {
		t.Errorf("Close %v, want VPP's exit %v", err, v.Err())
	}
	if !logged(hook, "vpp: cannot open the API socket") {
		t.Errorf("stderr not logged: %v", hook.AllEntries())
	}
}

func TestContextStopsVPP(t *testing.T) {
	bin, _ := fakeVPP(t, trapTERM, forever)
	ctx, cancel := context.WithCancel(context.Background())
	log, _ := logtest.NewNullLogger()
	v, err := vppstart.Start(ctx, bin, vppstart.Params{RootDir: t.TempDir(), BufferDataSize: 3776}, log)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if v.Err() != nil {
		t.Errorf("Err %v while running", v.Err())
	}
	cancel()
	select {
	case <-v.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("VPP still runs after the context ended")
	}
	if err := v.Close(); err != nil {
		t.Errorf("Close after a requested stop: %v", err)
	}
}

func TestKilledWhenItIgnoresSIGTERM(t *testing.T) {
	defer vppstart.SetStopGrace(200 * time.Millisecond)()
	bin, seen := fakeVPP(t, "trap '' TERM", forever)
	log, hook := logtest.NewNullLogger()
	v, err := vppstart.Start(context.Background(), bin, vppstart.Params{RootDir: t.TempDir(), BufferDataSize: 3776}, log)
	if err != nil {
		t.Fatal(err)
	}
	// The trap must be installed before the signal.
	waitFor(t, "the script", func() bool { _, err := os.Stat(seen); return err == nil })
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(v.Err().Error(), "signal: killed") || !logged(hook, "local VPP ignored SIGTERM; killing it") {
		t.Errorf("exit %v; log %v", v.Err(), hook.AllEntries())
	}
}

func TestAPISocket(t *testing.T) {
	bin, _ := fakeVPP(t, trapTERM, forever)
	log, _ := logtest.NewNullLogger()
	p := vppstart.Params{RootDir: t.TempDir(), BufferDataSize: 3776}
	if err := os.MkdirAll(filepath.Dir(p.APISocket()), 0o755); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", p.APISocket())
	if err != nil {
		t.Fatal(err)
	}
	// A live socket belongs to somebody else.
	if _, err := vppstart.Start(context.Background(), bin, p, log); !errors.Is(err, vppstart.ErrSocketInUse) ||
		!strings.Contains(err.Error(), p.APISocket()) {
		t.Errorf("%v, want ErrSocketInUse naming the socket", err)
	}
	// A socket nobody listens on is what a dead VPP left.
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	_ = l.Close()
	v, err := vppstart.Start(context.Background(), bin, p, log)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = v.Close() }()
	if _, err := os.Lstat(p.APISocket()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale socket kept: %v", err)
	}
}

// TestRealVPP starts the vpp of this machine with the rendered configuration
// and waits for its API socket.
func TestRealVPP(t *testing.T) {
	bin, err := exec.LookPath("vpp")
	if err != nil {
		t.Skip("no vpp executable in PATH: starting a real VPP is not tested on this machine")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: VPP maps its shared memory and opens its sockets as root")
	}
	root := t.TempDir()
	log := logrus.New()
	log.SetOutput(os.Stderr)
	v, err := vppstart.Start(context.Background(), bin, vppstart.DefaultParams(root), log)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = v.Close() }()
	sock := vppstart.DefaultParams(root).APISocket()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("unix", sock); err == nil {
			_ = c.Close()
			break
		}
		select {
		case <-v.Done():
			t.Fatalf("VPP exited before serving %s: %v", sock, v.Err())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("VPP does not serve %s after 30 s", sock)
		}
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
}
