// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package app_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/cmd-registry/internal/app"
	"github.com/nsmesh/nsmesh/cmd-registry/internal/config"
	"github.com/nsmesh/nsmesh/sdk/registry/chains/client"
	"github.com/nsmesh/nsmesh/sdk/token"
	"github.com/nsmesh/nsmesh/sdk/tools/opa"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func socket(t *testing.T) *url.URL {
	t.Helper()
	dir, err := os.MkdirTemp("", "cmdreg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return &url.URL{Scheme: "unix", Path: filepath.Join(dir, "registry.sock")}
}

func TestRegistryServesRegistersExpiresAndStops(t *testing.T) {
	u := socket(t)
	cfg := &config.Config{
		Name:             "registry-test",
		ListenOn:         []*url.URL{u},
		MaxTokenLifetime: 10 * time.Minute,
		ExpirePeriod:     500 * time.Millisecond,
		LogLevel:         logrus.InfoLevel,
	}
	logs := &syncBuffer{}
	logger := logrus.New()
	logger.SetOutput(logs)

	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(runCtx, cfg, logger) }()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cc, err := grpc.NewClient(u.String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cc.Close() }()

	// Health, once the server is up.
	h := healthpb.NewHealthClient(cc)
	for _, svc := range []string{"", "registry.NetworkServiceRegistry", "registry.NetworkServiceEndpointRegistry"} {
		resp, err := h.Check(ctx, &healthpb.HealthCheckRequest{Service: svc}, grpc.WaitForReady(true))
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("health of %q: %v, %v", svc, resp, err)
		}
	}

	// A watcher sees the endpoint arrive and expire.
	w, err := registry.NewNetworkServiceEndpointRegistryClient(cc).Find(ctx, &registry.NetworkServiceEndpointQuery{
		NetworkServiceEndpoint: &registry.NetworkServiceEndpoint{NetworkServiceNames: []string{"icmp"}},
		Watch:                  true,
	})
	if err != nil {
		t.Fatal(err)
	}
	clientCtx, clientCancel := context.WithCancel(ctx)
	defer clientCancel()
	nseClient, err := client.NewNSEClient(clientCtx,
		client.WithURL(u),
		client.WithDialOptions(grpc.WithTransportCredentials(insecure.NewCredentials())),
		client.WithoutRefresh(), client.WithoutHeal())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nseClient.Register(ctx, &registry.NetworkServiceEndpoint{
		Name: "nse-icmp", NetworkServiceNames: []string{"icmp"}, Url: "tcp://10.1.1.1:5003",
	}); err != nil {
		t.Fatal(err)
	}
	first, err := w.Recv()
	if err != nil || first.GetDeleted() || first.GetNetworkServiceEndpoint().GetName() != "nse-icmp" {
		t.Fatalf("watch: %v, %v; want the registration", first, err)
	}
	second, err := w.Recv()
	if err != nil || !second.GetDeleted() || second.GetNetworkServiceEndpoint().GetName() != "nse-icmp" {
		t.Fatalf("watch: %v, %v; want the expiry", second, err)
	}

	// Stopping ends the open watch and returns.
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if _, err := w.Recv(); err == nil {
		t.Fatal("watch still open after the registry stopped")
	}
	out := logs.String()
	if n := strings.Count(out, "insecure: no TLS"); n != 1 {
		t.Fatalf("insecure warning logged %d times:\n%s", n, out)
	}
	if !strings.Contains(out, "listening on "+u.String()) {
		t.Fatalf("no listening line:\n%s", out)
	}
}

func TestListenFailure(t *testing.T) {
	// A unix socket under a regular file cannot be created.
	f, err := os.CreateTemp("", "cmdreg")
	if err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	defer func() { _ = os.Remove(f.Name()) }()
	cfg := &config.Config{
		Name:         "registry-test",
		ListenOn:     []*url.URL{{Scheme: "unix", Path: filepath.Join(f.Name(), "registry.sock")}},
		ExpirePeriod: time.Minute,
	}
	logger := logrus.New()
	logger.SetOutput(&syncBuffer{})
	if err := app.Run(context.Background(), cfg, logger); err == nil {
		t.Fatal("Run succeeded without a listener")
	}
}

// The native ownership check and a Rego policy from
// NSM_REGISTRY_SERVER_POLICIES both guard the registry.
func TestRegistryPolicies(t *testing.T) {
	u := socket(t)
	f := filepath.Join(t.TempDir(), "no_test_names.rego")
	if err := os.WriteFile(f, []byte("package nsm\nvalid if not startswith(input.resource_name, \"test-\")\nreason := \"names starting with test- are reserved\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	policies, err := opa.LoadEnv(context.Background(), "NSM_REGISTRY_SERVER_POLICIES", f)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{Name: "registry-test", ListenOn: []*url.URL{u}, MaxTokenLifetime: time.Minute,
		ExpirePeriod: time.Minute, LogLevel: logrus.InfoLevel, RegistryServerPolicies: policies}
	logger := logrus.New()
	logger.SetOutput(&syncBuffer{})
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(runCtx, cfg, logger) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	as := func(id string) registry.NetworkServiceEndpointRegistryClient {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		gen, err := token.NewJWTGenerator(key, id, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		cc, err := grpc.NewClient(u.String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithPerRPCCredentials(token.NewInsecurePerRPCCredentials(gen)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cc.Close() })
		return registry.NewNetworkServiceEndpointRegistryClient(cc)
	}
	a, b := as("spiffe://test/a"), as("spiffe://test/b")
	var regErr error
	for range 100 { // the server may still be starting
		if _, regErr = a.Register(ctx, &registry.NetworkServiceEndpoint{Name: "nse-1"}); status.Code(regErr) != codes.Unavailable {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if regErr != nil {
		t.Fatal(regErr)
	}
	_, err = b.Register(ctx, &registry.NetworkServiceEndpoint{Name: "nse-1"})
	if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "spiffe://test/a") {
		t.Fatalf("other identity: %v, want PermissionDenied naming the owner", err)
	}
	_, err = b.Register(ctx, &registry.NetworkServiceEndpoint{Name: "test-1"})
	if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "policy no_test_names: no sufficient privileges") ||
		!strings.Contains(err.Error(), "reserved") {
		t.Fatalf("reserved name: %v, want the Rego policy's denial", err)
	}
}
