// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package nsmgr_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/nsmesh/nsmesh/apis/registry"
	regauthorize "github.com/nsmesh/nsmesh/sdk/registry/authorize"
	"github.com/nsmesh/nsmesh/sdk/registry/chains/client"
	"github.com/nsmesh/nsmesh/sdk/registry/chains/memory"
	"github.com/nsmesh/nsmesh/sdk/registry/chains/nsmgr"
	"github.com/nsmesh/nsmesh/sdk/registry/grpcmetadata"
	"github.com/nsmesh/nsmesh/sdk/registry/internal/regtest"
	"github.com/nsmesh/nsmesh/sdk/token"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func generator(t *testing.T, sub string) *token.JWTGenerator {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	g, err := token.NewJWTGenerator(key, sub, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func dialWith(gen token.Generator) []grpc.DialOption {
	return []grpc.DialOption{regtest.Insecure(), grpc.WithPerRPCCredentials(token.NewInsecurePerRPCCredentials(gen))}
}

func plain(t *testing.T, u *url.URL) (registry.NetworkServiceRegistryClient, registry.NetworkServiceEndpointRegistryClient) {
	t.Helper()
	cc, err := grpc.NewClient(u.String(), regtest.Insecure())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return registry.NewNetworkServiceRegistryClient(cc), registry.NewNetworkServiceEndpointRegistryClient(cc)
}

func urls(t *testing.T, ctx context.Context, c registry.NetworkServiceEndpointRegistryClient, q *registry.NetworkServiceEndpoint) map[string]string {
	t.Helper()
	s, err := c.Find(ctx, &registry.NetworkServiceEndpointQuery{NetworkServiceEndpoint: q})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range regtest.All(t, s) {
		out[r.GetNetworkServiceEndpoint().GetName()] = r.GetNetworkServiceEndpoint().GetUrl()
	}
	return out
}

const nsmgrPublic = "tcp://192.0.2.1:5001"

type mesh struct {
	regURL, mgrURL *url.URL
	stopMgr        func()
}

// start runs a central registry and an nsmgr that forwards to it, both
// with tokens, on unix sockets.
func start(t *testing.T, ctx context.Context, mgrOpts ...nsmgr.Option) *mesh {
	t.Helper()
	m := &mesh{regURL: regtest.SocketURL(t, "reg.sock"), mgrURL: regtest.SocketURL(t, "nsmgr.sock")}
	reg, err := memory.NewServer(ctx, memory.WithTokenGenerator(generator(t, "spiffe://test/registry")))
	if err != nil {
		t.Fatal(err)
	}
	regtest.Serve(t, m.regURL, reg.NS, reg.NSE)
	mgrGen := generator(t, "spiffe://test/nsmgr")
	public, _ := url.Parse(nsmgrPublic)
	mgr, err := nsmgr.NewServer(ctx, public, append([]nsmgr.Option{
		nsmgr.WithTokenGenerator(mgrGen),
		nsmgr.WithRegistryURL(m.regURL),
		nsmgr.WithDialOptions(dialWith(mgrGen)...),
	}, mgrOpts...)...)
	if err != nil {
		t.Fatal(err)
	}
	m.stopMgr = regtest.Serve(t, m.mgrURL, mgr.NS, mgr.NSE)
	return m
}

func TestRegistrationThroughTheNSMgr(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m := start(t, ctx)
	nseClient, err := client.NewNSEClient(ctx, client.WithURL(m.mgrURL), client.WithDialOptions(dialWith(generator(t, "spiffe://test/nse"))...))
	if err != nil {
		t.Fatal(err)
	}
	path := &grpcmetadata.Path{}
	resp, err := nseClient.Register(grpcmetadata.WithPath(ctx, path), &registry.NetworkServiceEndpoint{
		Name: "nse-1", NetworkServiceNames: []string{"red"}, Url: "unix:///run/nse-1.sock",
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"spiffe://test/nse", "spiffe://test/nsmgr", "spiffe://test/registry"}; !slices.Equal(resp.GetPathIds(), want) {
		t.Fatalf("path_ids %v, want %v", resp.GetPathIds(), want)
	}
	if resp.GetUrl() != "unix:///run/nse-1.sock" {
		t.Fatalf("registrant got url %q", resp.GetUrl())
	}
	if resp.GetExpirationTime() == nil || resp.GetInitialRegistrationTime() == nil {
		t.Fatalf("registry did not fill the times: %v", resp)
	}
	// The path the NSE got back: three hops, the NSE at index 0.
	if path.Index != 0 || len(path.PathSegments) != 3 {
		t.Fatalf("NSE's path after Register: %+v", path)
	}
	for i, want := range []string{"spiffe://test/nse", "spiffe://test/nsmgr", "spiffe://test/registry"} {
		c, err := token.Parse(path.PathSegments[i].Token)
		if err != nil || c.Subject != want {
			t.Fatalf("path segment %d: %v, %v; want a token of %s", i, c, err, want)
		}
	}

	_, central := plain(t, m.regURL)
	_, viaMgr := plain(t, m.mgrURL)
	if got := urls(t, ctx, central, &registry.NetworkServiceEndpoint{}); got["nse-1"] != nsmgrPublic {
		t.Fatalf("central registry holds %v, want the nsmgr's URL", got)
	}
	for _, q := range []*registry.NetworkServiceEndpoint{
		{Name: "nse-1"},
		{NetworkServiceNames: []string{"red"}},
		{Url: nsmgrPublic},
	} {
		if got := urls(t, ctx, viaMgr, q); len(got) != 1 || got["nse-1"] != "unix:///run/nse-1.sock" {
			t.Fatalf("Find %v through the nsmgr: %v, want the real URL", q, got)
		}
	}

	// Network services pass through to the central registry.
	nsClient, err := client.NewNSClient(ctx, client.WithURL(m.mgrURL), client.WithDialOptions(regtest.Insecure()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nsClient.Register(ctx, &registry.NetworkService{Name: "red"}); err != nil {
		t.Fatal(err)
	}
	centralNS, _ := plain(t, m.regURL)
	s, _ := centralNS.Find(ctx, &registry.NetworkServiceQuery{NetworkService: &registry.NetworkService{Name: "red"}})
	if got := regtest.All(t, s); len(got) != 1 || got[0].GetNetworkService().GetPayload() != "IP" {
		t.Fatalf("central registry holds %v", got)
	}

	if _, err := nseClient.Unregister(ctx, &registry.NetworkServiceEndpoint{Name: "nse-1"}); err != nil {
		t.Fatal(err)
	}
	if got := urls(t, ctx, central, &registry.NetworkServiceEndpoint{}); len(got) != 0 {
		t.Fatalf("after Unregister the central registry holds %v", got)
	}
}

func TestNSMgrExpiryReachesTheRegistry(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m := start(t, ctx, nsmgr.WithDefaultExpiration(300*time.Millisecond))
	nseClient, err := client.NewNSEClient(ctx, client.WithURL(m.mgrURL), client.WithDialOptions(regtest.Insecure()),
		client.WithoutRefresh(), client.WithoutHeal())
	if err != nil {
		t.Fatal(err)
	}
	_, central := plain(t, m.regURL)
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	w, err := central.Find(wctx, &registry.NetworkServiceEndpointQuery{NetworkServiceEndpoint: &registry.NetworkServiceEndpoint{}, Watch: true})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := nseClient.Register(ctx, &registry.NetworkServiceEndpoint{Name: "nse-1", Url: "unix:///run/nse-1.sock"})
	if err != nil {
		t.Fatal(err)
	}
	if left := time.Until(resp.GetExpirationTime().AsTime()); left > 300*time.Millisecond {
		t.Fatalf("nsmgr granted %s, more than its default", left)
	}
	var seq []bool
	for len(seq) < 2 {
		r, err := regtest.Next(t, w, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		seq = append(seq, r.GetDeleted())
	}
	// The central registry's own expiration is a minute: the delete came from
	// the nsmgr.
	if seq[0] || !seq[1] {
		t.Fatalf("central watch saw deleted=%v, want registered then deleted", seq)
	}
}

func TestNSMgrWithoutRegistry(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	public, _ := url.Parse(nsmgrPublic)
	mgr, err := nsmgr.NewServer(ctx, public)
	if err != nil {
		t.Fatal(err)
	}
	u := regtest.SocketURL(t, "nsmgr.sock")
	regtest.Serve(t, u, mgr.NS, mgr.NSE)
	_, c := plain(t, u)
	if _, err := c.Register(ctx, &registry.NetworkServiceEndpoint{Name: "fwd", NetworkServiceNames: []string{"forwarder"}, Url: "unix:///run/fwd.sock"}); err != nil {
		t.Fatal(err)
	}
	if got := urls(t, ctx, c, &registry.NetworkServiceEndpoint{Url: nsmgrPublic}); got["fwd"] != "unix:///run/fwd.sock" {
		t.Fatalf("local forwarders by nsmgr URL: %v", got)
	}
	if _, err := nsmgr.NewServer(ctx, nil); err == nil {
		t.Fatal("nil nsmgr URL accepted")
	}
}

// TestNSMgrClientPolicies: policies on the nsmgr's client side see the path
// the registry returned; a denied registration fails and is not left at the
// registry.
func TestNSMgrClientPolicies(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Trust only a registry that is not the one running.
	onlyOtherRegistry := regauthorize.NewPolicy("only_other_registry", func(_ context.Context, in *regauthorize.Input) error {
		last := in.Path.PathSegments[len(in.Path.PathSegments)-1]
		c, err := token.Parse(last.Token)
		if err != nil {
			return err
		}
		if c.Subject != "spiffe://test/other-registry" {
			return fmt.Errorf("answered by %s", c.Subject)
		}
		return nil
	})
	m := start(t, ctx,
		nsmgr.WithNSClientElements(regauthorize.NewNSClient(regauthorize.WithPolicies(onlyOtherRegistry))),
		nsmgr.WithNSEClientElements(regauthorize.NewNSEClient(regauthorize.WithPolicies(onlyOtherRegistry))))
	nseClient, err := client.NewNSEClient(ctx, client.WithURL(m.mgrURL), client.WithDialOptions(dialWith(generator(t, "spiffe://test/nse"))...))
	if err != nil {
		t.Fatal(err)
	}
	_, err = nseClient.Register(ctx, &registry.NetworkServiceEndpoint{Name: "nse-1", NetworkServiceNames: []string{"red"}, Url: "unix:///run/nse-1.sock"})
	if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "only_other_registry") {
		t.Fatalf("Register through an nsmgr whose client policy denies: %v, want PermissionDenied by only_other_registry", err)
	}
	_, central := plain(t, m.regURL)
	if got := urls(t, ctx, central, &registry.NetworkServiceEndpoint{}); len(got) != 0 {
		t.Fatalf("a denied registration is left at the registry: %v", got)
	}
	nsClient, err := client.NewNSClient(ctx, client.WithURL(m.mgrURL), client.WithDialOptions(dialWith(generator(t, "spiffe://test/nse"))...))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nsClient.Register(ctx, &registry.NetworkService{Name: "red"}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("NS Register through an nsmgr whose client policy denies: %v, want PermissionDenied", err)
	}
}
