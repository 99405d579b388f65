// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package app_test

import (
	"context"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/cmd-nsmgr/internal/app"
	"github.com/nsmesh/nsmesh/cmd-nsmgr/internal/config"
	"github.com/nsmesh/nsmesh/sdk/tools/spiffe"
	"github.com/nsmesh/nsmesh/sdk/tools/spiffe/devca"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// modes returns how the test runs the nsmgr (its identity) and how its
// clients dial it: plaintext with NSM_INSECURE, and mTLS with an SVID
// directory of a development CA and clients of the same trust domain.
func modes(t *testing.T) []struct {
	name string
	id   spiffe.Config
	dial []grpc.DialOption
} {
	ca := devca.MustNew("nsmesh.local")
	dir := filepath.Join(t.TempDir(), "nsmgr")
	if _, err := ca.IssueToDir(dir, spiffeid.RequireFromString("spiffe://nsmesh.local/nsmgr/nsmgr-test"), time.Hour); err != nil {
		t.Fatal(err)
	}
	svid, err := ca.Issue(spiffeid.RequireFromString("spiffe://nsmesh.local/nsc/test"), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	src, err := spiffe.NewMemorySource(svid, ca.Bundle())
	if err != nil {
		t.Fatal(err)
	}
	client, err := spiffe.FromSource(src, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return []struct {
		name string
		id   spiffe.Config
		dial []grpc.DialOption
	}{
		{"insecure", spiffe.Insecure(), []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}},
		{"mTLS", spiffe.Config{Mode: spiffe.ModeFiles, SVIDDir: dir}, client.DialOptions()},
	}
}

func TestServesHealthRegistryAndStops(t *testing.T) {
	for _, m := range modes(t) {
		t.Run(m.name, func(t *testing.T) {
			serve(t, m.id, m.dial)
		})
	}
}

func serve(t *testing.T, id spiffe.Config, dial []grpc.DialOption) {
	dir, err := os.MkdirTemp("", "nsmgr-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "nsm.io.sock")
	cfg := &config.Config{
		Name:                 "nsmgr-test",
		ListenOn:             []*url.URL{{Scheme: "unix", Path: sock}, {Scheme: "tcp", Host: "127.0.0.1:0"}},
		PublicURL:            &url.URL{Scheme: "tcp", Host: "127.0.0.1:5001"},
		MaxTokenLifetime:     time.Minute,
		DialTimeout:          time.Second,
		ForwarderServiceName: "forwarder",
		LogLevel:             logrus.ErrorLevel,
		Identity:             id,
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan []net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx, cfg, func(a []net.Addr) { ready <- a }) }()
	var addrs []net.Addr
	select {
	case addrs = <-ready:
	case err := <-done:
		t.Fatalf("Run ended early: %v", err)
	}
	for _, target := range []string{"unix://" + sock, addrs[1].String()} {
		cc, err := grpc.NewClient(target, dial...)
		if err != nil {
			t.Fatal(err)
		}
		for _, svc := range []string{"", "networkservice.NetworkService", "connection.MonitorConnection", "registry.NetworkServiceEndpointRegistry", "registry.NetworkServiceRegistry"} {
			resp, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
			if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				t.Fatalf("%s health of %q = %v, %v", target, svc, resp, err)
			}
		}
		_ = cc.Close()
	}
	// Without a registry URL registrations stay in memory and can be found.
	if id.Mode != spiffe.ModeInsecure {
		// A plaintext client gets nothing from an mTLS nsmgr.
		plain, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		short, stop := context.WithTimeout(ctx, time.Second)
		_, err = healthpb.NewHealthClient(plain).Check(short, &healthpb.HealthCheckRequest{})
		stop()
		_ = plain.Close()
		if err == nil {
			t.Fatal("a plaintext client was served")
		}
	}
	cc, err := grpc.NewClient("unix://"+sock, dial...)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	nses := registry.NewNetworkServiceEndpointRegistryClient(cc)
	if _, err := nses.Register(ctx, &registry.NetworkServiceEndpoint{Name: "fwd", NetworkServiceNames: []string{"forwarder"}, Url: "unix:///tmp/fwd.sock"}); err != nil {
		t.Fatal(err)
	}
	stream, err := nses.Find(ctx, &registry.NetworkServiceEndpointQuery{NetworkServiceEndpoint: &registry.NetworkServiceEndpoint{Name: "fwd"}})
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for {
		r, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if r.GetNetworkServiceEndpoint().GetUrl() != "unix:///tmp/fwd.sock" {
			t.Fatalf("local endpoint found with url %q", r.GetNetworkServiceEndpoint().GetUrl())
		}
		found++
	}
	if found != 1 {
		t.Fatalf("found %d", found)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop")
	}
}
