// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package memory_test

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/registry/chains"
	"github.com/nsmesh/nsmesh/sdk/registry/chains/memory"
	"github.com/nsmesh/nsmesh/sdk/registry/internal/regtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestMemoryRegistryOverGRPC(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := memory.NewServer(ctx, memory.WithDefaultExpiration(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	u := regtest.SocketURL(t, "reg.sock")
	regtest.Serve(t, u, srv.NS, srv.NSE)
	cc, err := grpc.NewClient(u.String(), regtest.Insecure())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cc.Close() }()

	h := healthpb.NewHealthClient(cc)
	for _, name := range []string{"", chains.NSServiceName, chains.NSEServiceName} {
		resp, err := h.Check(ctx, &healthpb.HealthCheckRequest{Service: name})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("health of %q: %v, %v", name, resp, err)
		}
	}

	ns, err := registry.NewNetworkServiceRegistryClient(cc).Register(ctx, &registry.NetworkService{Name: "red"})
	if err != nil {
		t.Fatal(err)
	}
	if ns.GetPayload() != "IP" {
		t.Fatalf("payload %q, want the IP default", ns.GetPayload())
	}
	before := time.Now()
	nse, err := registry.NewNetworkServiceEndpointRegistryClient(cc).Register(ctx, &registry.NetworkServiceEndpoint{Name: "nse-1"})
	if err != nil {
		t.Fatal(err)
	}
	if exp := nse.GetExpirationTime().AsTime(); exp.Before(before.Add(59*time.Minute)) || exp.After(time.Now().Add(time.Hour)) {
		t.Fatalf("expiration %s, want an hour from now", exp)
	}
	if reg := nse.GetInitialRegistrationTime().AsTime(); reg.Before(before.Add(-time.Second)) || reg.After(time.Now()) {
		t.Fatalf("initial registration time %s", reg)
	}
	if len(nse.GetPathIds()) != 2 {
		t.Fatalf("path_ids %v, want caller and registry", nse.GetPathIds())
	}
}

func TestBadOptions(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := memory.NewServer(ctx, memory.WithDefaultExpiration(-time.Second)); err == nil {
		t.Fatal("negative expiration accepted")
	}
	if _, err := memory.NewServer(ctx, memory.WithWatchBuffer(0)); err == nil {
		t.Fatal("zero watch buffer accepted")
	}
}
