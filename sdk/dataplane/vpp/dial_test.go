// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package vpp_test

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.fd.io/govpp/binapi/memclnt"

	"github.com/nsmesh/nsmesh/sdk/dataplane/vpp"
)

func TestDial(t *testing.T) {
	type setup func(t *testing.T, path string)
	later := func(d time.Duration, f setup) setup {
		return func(t *testing.T, path string) {
			done := make(chan struct{})
			tm := time.AfterFunc(d, func() { defer close(done); f(t, path) })
			t.Cleanup(func() {
				if tm.Stop() {
					close(done)
				}
				<-done
			})
		}
	}
	listen := func(t *testing.T, path string) { listenFakeSocket(t, path) }
	// refusing leaves a socket file nobody listens on: connect is refused,
	// as when VPP has created its socket but does not accept yet.
	refusing := func(t *testing.T, path string) {
		ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
		if err != nil {
			t.Error(err)
			return
		}
		ln.SetUnlinkOnClose(false)
		_ = ln.Close()
	}
	then := func(a, b setup) setup {
		return func(t *testing.T, path string) { a(t, path); b(t, path) }
	}
	unlinkAndListen := func(t *testing.T, path string) {
		_ = os.Remove(path)
		listen(t, path)
	}

	tests := []struct {
		name    string
		setup   setup
		timeout time.Duration
		// wantErr lists substrings of the error; nil means Dial succeeds.
		wantErr []string
	}{
		{name: "socket already there", setup: listen, timeout: 5 * time.Second},
		{name: "socket appears late", setup: later(300*time.Millisecond, listen), timeout: 5 * time.Second},
		{name: "socket refuses, then accepts", setup: then(refusing, later(300*time.Millisecond, unlinkAndListen)), timeout: 5 * time.Second},
		{name: "socket never appears", setup: func(*testing.T, string) {}, timeout: 300 * time.Millisecond,
			wantErr: []string{"api.sock", "did not appear", "deadline exceeded"}},
		{name: "socket always refuses", setup: refusing, timeout: 300 * time.Millisecond,
			wantErr: []string{"api.sock", "attempts", "connection refused", "deadline exceeded"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "api.sock")
			tt.setup(t, path)
			ctx, cancel := context.WithTimeout(context.Background(), tt.timeout)
			defer cancel()
			start := time.Now()
			conn, err := vpp.Dial(ctx, path)
			if tt.wantErr != nil {
				if err == nil {
					_ = vpp.Close(conn)
					t.Fatal("Dial succeeded, want an error")
				}
				for _, s := range tt.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not mention %q", err, s)
					}
				}
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("error %v does not wrap context.DeadlineExceeded", err)
				}
				if d := time.Since(start); d > tt.timeout+time.Second {
					t.Errorf("Dial returned %s after ctx ended", d-tt.timeout)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := vpp.Close(conn); err != nil {
					t.Error(err)
				}
			}()
			if got := conn.(*vpp.Conn).SocketPath(); got != path {
				t.Errorf("SocketPath = %q, want %q", got, path)
			}
			// The connection works: a request reaches the fake VPP and
			// its reply comes back.
			if err := conn.Invoke(ctx, &memclnt.ControlPing{}, &memclnt.ControlPingReply{}); err != nil {
				t.Fatalf("control_ping: %v", err)
			}
		})
	}
}

func TestDialCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err := vpp.Dial(ctx, filepath.Join(t.TempDir(), "none", "api.sock"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Dial after cancel = %v, want context.Canceled", err)
	}
}

func TestCloseForeignConnection(t *testing.T) {
	if err := vpp.Close(nil); err == nil {
		t.Fatal("Close of a connection Dial did not open must fail")
	}
}

// TestDialRealVPP connects to a running VPP when there is one.
func TestDialRealVPP(t *testing.T) {
	if _, err := exec.LookPath("vpp"); err != nil {
		t.Skip("needs a real VPP: no vpp binary on PATH")
	}
	if _, err := os.Stat(vpp.DefaultSocketPath); err != nil {
		t.Skipf("needs a running VPP: no API socket at %s", vpp.DefaultSocketPath)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := vpp.Dial(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = vpp.Close(conn) }()
	if err := conn.Invoke(ctx, &memclnt.ControlPing{}, &memclnt.ControlPingReply{}); err != nil {
		t.Fatal(err)
	}
}
