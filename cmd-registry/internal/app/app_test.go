// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package app_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/cmd-registry/internal/app"
	"github.com/nsmesh/nsmesh/cmd-registry/internal/config"
	"github.com/nsmesh/nsmesh/sdk/registry/chains/client"
	"github.com/nsmesh/nsmesh/sdk/token"
	"github.com/nsmesh/nsmesh/sdk/tools/opa"
	"github.com/nsmesh/nsmesh/sdk/tools/spiffe"
	"github.com/nsmesh/nsmesh/sdk/tools/spiffe/devca"
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
		Identity:         spiffe.Insecure(),
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
		Name:             "registry-test",
		ListenOn:         []*url.URL{{Scheme: "unix", Path: filepath.Join(f.Name(), "registry.sock")}},
		ExpirePeriod:     time.Minute,
		MaxTokenLifetime: time.Minute,
		Identity:         spiffe.Insecure(),
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
		ExpirePeriod: time.Minute, LogLevel: logrus.InfoLevel, RegistryServerPolicies: policies, Identity: spiffe.Insecure()}
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

// With an SVID directory the registry serves only mTLS clients of its trust
// domain, and signs its path tokens with its SVID.
func TestRegistryOverMutualTLS(t *testing.T) {
	u := socket(t)
	ca := devca.MustNew("nsmesh.local")
	dir := filepath.Join(t.TempDir(), "registry")
	if _, err := ca.IssueToDir(dir, spiffeid.RequireFromString("spiffe://nsmesh.local/registry/registry"), time.Hour); err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{Name: "registry", ListenOn: []*url.URL{u}, MaxTokenLifetime: time.Minute, ExpirePeriod: time.Minute,
		LogLevel: logrus.InfoLevel, Identity: spiffe.Config{Mode: spiffe.ModeFiles, SVIDDir: dir}}
	logs := &syncBuffer{}
	logger := logrus.New()
	logger.SetOutput(logs)
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(runCtx, cfg, logger) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	member := func(ca *devca.CA, id string) *spiffe.Identity {
		svid, err := ca.Issue(spiffeid.RequireFromString(id), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		src, err := spiffe.NewMemorySource(svid, ca.Bundle())
		if err != nil {
			t.Fatal(err)
		}
		ident, err := spiffe.FromSource(src, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return ident
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	nse := member(ca, "spiffe://nsmesh.local/nse/icmp")
	cc, err := grpc.NewClient(u.String(), nse.DialOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cc.Close() }()
	if _, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{}, grpc.WaitForReady(true)); err != nil {
		t.Fatal(err)
	}
	// A path in the metadata asks the registry for its updated path back.
	var header metadata.MD
	pathCtx := metadata.AppendToOutgoingContext(ctx, "path", `{"Index":0,"PathSegments":[{}]}`)
	if _, err := registry.NewNetworkServiceEndpointRegistryClient(cc).Register(pathCtx, &registry.NetworkServiceEndpoint{
		Name: "nse-icmp", NetworkServiceNames: []string{"icmp"}, Url: "tcp://10.1.1.1:5003",
	}, grpc.Header(&header)); err != nil {
		t.Fatal(err)
	}
	// The registry's own token in the returned path is signed with its SVID.
	svid, err := x509svid.Load(filepath.Join(dir, spiffe.SVIDFile), filepath.Join(dir, spiffe.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	path := header.Get("path")
	if len(path) != 1 {
		t.Fatalf("path header %q", path)
	}
	var p struct{ PathSegments []struct{ Token string } }
	if err := json.Unmarshal([]byte(path[0]), &p); err != nil || len(p.PathSegments) != 2 {
		t.Fatalf("path %s: %v", path[0], err)
	}
	claims, err := token.Verify(p.PathSegments[1].Token, svid.Certificates[0].PublicKey)
	if err != nil || claims.Subject != "spiffe://nsmesh.local/registry/registry" || !claims.HasAudience("spiffe://nsmesh.local/nse/icmp") {
		t.Fatalf("registry token %+v, %v", claims, err)
	}

	for name, creds := range map[string]credentials.TransportCredentials{
		"plaintext":          insecure.NewCredentials(),
		"other trust domain": member(devca.MustNew("evil.example"), "spiffe://evil.example/nse/x").ClientCredentials(),
	} {
		bad, err := grpc.NewClient(u.String(), grpc.WithTransportCredentials(creds))
		if err != nil {
			t.Fatal(err)
		}
		short, stopShort := context.WithTimeout(ctx, time.Second)
		_, err = registry.NewNetworkServiceEndpointRegistryClient(bad).Register(short, &registry.NetworkServiceEndpoint{Name: "nse-evil", Url: "tcp://10.6.6.6:1"})
		stopShort()
		_ = bad.Close()
		if status.Code(err) != codes.Unavailable && status.Code(err) != codes.DeadlineExceeded {
			t.Fatalf("%s client: %v, want a failed connection", name, err)
		}
	}
	stream, err := registry.NewNetworkServiceEndpointRegistryClient(cc).Find(ctx, &registry.NetworkServiceEndpointQuery{
		NetworkServiceEndpoint: &registry.NetworkServiceEndpoint{Name: "nse-evil"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := stream.Recv(); err == nil {
		t.Fatalf("a refused client registered %v", r)
	}
	if !strings.Contains(logs.String(), "mTLS handshake refused") {
		t.Fatalf("no refusal in the log:\n%s", logs)
	}
}
