// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package grpcutils_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/nsmesh/nsmesh/sdk/tools/grpcutils"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParseURL(t *testing.T) {
	tests := []struct {
		in, target string
		bad        bool
	}{
		{in: "unix:///var/lib/networkservicemesh/nsm.io.sock", target: "unix:///var/lib/networkservicemesh/nsm.io.sock"},
		{in: "tcp://127.0.0.1:5001", target: "127.0.0.1:5001"},
		{in: " tcp://[::1]:5002 ", target: "[::1]:5002"},
		{in: "tcp://:5002", target: ":5002"},
		{in: "tcp://localhost", bad: true},
		{in: "unix://", bad: true},
		{in: "http://x:1", bad: true},
		{in: "localhost:5001", bad: true},
		{in: "%zz", bad: true},
	}
	for _, tt := range tests {
		u, err := grpcutils.ParseURL(tt.in)
		if tt.bad {
			if !errors.Is(err, grpcutils.ErrBadURL) {
				t.Errorf("ParseURL(%q) err = %v, want ErrBadURL", tt.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseURL(%q): %v", tt.in, err)
			continue
		}
		if got := grpcutils.Target(u); got != tt.target {
			t.Errorf("Target(%q) = %q, want %q", tt.in, got, tt.target)
		}
	}
	if _, err := grpcutils.ParseURLs(" , "); err == nil {
		t.Error("empty list accepted")
	}
	if us, err := grpcutils.ParseURLs("unix:///a.sock,tcp://127.0.0.1:1"); err != nil || len(us) != 2 {
		t.Errorf("ParseURLs = %v, %v", us, err)
	}
}

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"unix:///a", "tcp://1.2.3.4:5", "tcp://[::1]:0", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := grpcutils.ParseURL(s)
		if err == nil && grpcutils.Target(u) == "" {
			t.Fatalf("accepted %q with an empty target", s)
		}
	})
}

func TestServeHealthAndGracefulStop(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s.sock")
	u, _ := grpcutils.ParseURL("unix://" + sock)
	l, err := grpcutils.Listen(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	grpcutils.RegisterHealth(srv)
	ctx, cancel := context.WithCancel(context.Background())
	done := grpcutils.Serve(ctx, srv, time.Second, l)

	cc, err := grpc.NewClient(grpcutils.Target(grpcutils.ListenerURL(l)), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	resp, err := healthpb.NewHealthClient(cc).Check(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health = %v, %v", resp, err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("server did not stop")
	}
	// A second Listen on the same path replaces the stale socket.
	l2, err := grpcutils.Listen(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	_ = l2.Close()
}
