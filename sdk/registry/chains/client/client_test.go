// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package client_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/registry/chains/client"
	"github.com/nsmesh/nsmesh/sdk/registry/chains/memory"
	"github.com/nsmesh/nsmesh/sdk/registry/heal"
	"github.com/nsmesh/nsmesh/sdk/registry/internal/regtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// startRegistry serves a memory registry on u until ctx is done or stop is called.
func startRegistry(t *testing.T, ctx context.Context, u *url.URL, expiration time.Duration) (stop func()) {
	t.Helper()
	srv, err := memory.NewServer(ctx, memory.WithDefaultExpiration(expiration))
	if err != nil {
		t.Fatal(err)
	}
	return regtest.Serve(t, u, srv.NS, srv.NSE)
}

// observer is a plain client for looking at the registry from outside.
func observer(t *testing.T, ctx context.Context, u *url.URL) (registry.NetworkServiceRegistryClient, registry.NetworkServiceEndpointRegistryClient) {
	t.Helper()
	cc, err := grpc.NewClient(u.String(), regtest.Insecure())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return registry.NewNetworkServiceRegistryClient(cc), registry.NewNetworkServiceEndpointRegistryClient(cc)
}

func nseNames(t *testing.T, ctx context.Context, c registry.NetworkServiceEndpointRegistryClient) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	s, err := c.Find(ctx, &registry.NetworkServiceEndpointQuery{NetworkServiceEndpoint: &registry.NetworkServiceEndpoint{}})
	if err != nil {
		return nil
	}
	var out []string
	for {
		r, err := s.Recv()
		if err != nil {
			return out
		}
		out = append(out, r.GetNetworkServiceEndpoint().GetName())
	}
}

func nsNames(t *testing.T, ctx context.Context, c registry.NetworkServiceRegistryClient) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	s, err := c.Find(ctx, &registry.NetworkServiceQuery{NetworkService: &registry.NetworkService{}})
	if err != nil {
		return nil
	}
	var out []string
	for {
		r, err := s.Recv()
		if err != nil {
			return out
		}
		out = append(out, r.GetNetworkService().GetName())
	}
}

func clientOpts(u *url.URL, extra ...client.Option) []client.Option {
	return append([]client.Option{
		client.WithURL(u),
		client.WithDialOptions(regtest.Insecure()),
		client.WithHealOptions(heal.WithBackoff(20*time.Millisecond, 200*time.Millisecond)),
	}, extra...)
}

func TestRefreshKeepsTheRegistrationAlive(t *testing.T) {
	regCtx, regCancel := context.WithCancel(context.Background())
	defer regCancel()
	u := regtest.SocketURL(t, "reg.sock")
	startRegistry(t, regCtx, u, 300*time.Millisecond)
	_, obs := observer(t, regCtx, u)

	ctx, cancel := context.WithCancel(context.Background())
	c, err := client.NewNSEClient(ctx, clientOpts(u, client.WithoutHeal())...)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := client.RegisterNSE(ctx, c, &registry.NetworkServiceEndpoint{Name: "nse-1", NetworkServiceNames: []string{"red"}, Url: "tcp://1.2.3.4:5"})
	if err != nil {
		t.Fatal(err)
	}
	if left := time.Until(reg.NSE().GetExpirationTime().AsTime()); left <= 0 || left > 300*time.Millisecond {
		t.Fatalf("registry granted %s", left)
	}
	wctx, wcancel := context.WithCancel(regCtx)
	defer wcancel()
	w, err := obs.Find(wctx, &registry.NetworkServiceEndpointQuery{NetworkServiceEndpoint: &registry.NetworkServiceEndpoint{Name: "nse-1"}, Watch: true})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := regtest.Next(t, w, 5*time.Second); err != nil || r.GetDeleted() {
		t.Fatalf("watch started with %v, %v", r, err)
	}
	// Four lifetimes later the registration is still there and was never deleted.
	deadline := time.Now().Add(1200 * time.Millisecond)
	for time.Now().Before(deadline) {
		r, err := regtest.Next(t, w, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if r.GetDeleted() {
			t.Fatalf("registration expired despite refresh after %s", 1200*time.Millisecond-time.Until(deadline))
		}
	}
	// Closing the registration unregisters it, even after the client ended.
	cancel()
	if err := reg.Close(); err != nil {
		t.Fatal(err)
	}
	for {
		r, err := regtest.Next(t, w, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if r.GetDeleted() {
			break
		}
	}
	if got := nseNames(t, regCtx, obs); len(got) != 0 {
		t.Fatalf("after Close the registry holds %v", got)
	}
	if err := reg.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestWithoutRefreshAndHealTheRegistrationExpires(t *testing.T) {
	regCtx, regCancel := context.WithCancel(context.Background())
	defer regCancel()
	u := regtest.SocketURL(t, "reg.sock")
	startRegistry(t, regCtx, u, 200*time.Millisecond)
	_, obs := observer(t, regCtx, u)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := client.NewNSEClient(ctx, clientOpts(u, client.WithoutHeal(), client.WithoutRefresh())...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Register(ctx, &registry.NetworkServiceEndpoint{Name: "nse-1"}); err != nil {
		t.Fatal(err)
	}
	regtest.Eventually(t, 5*time.Second, func() bool { return len(nseNames(t, regCtx, obs)) == 0 }, "expiry")
	time.Sleep(300 * time.Millisecond)
	if got := nseNames(t, regCtx, obs); len(got) != 0 {
		t.Fatalf("expired registration came back: %v", got)
	}
}

func TestHealRegistersAgainAfterExpiry(t *testing.T) {
	regCtx, regCancel := context.WithCancel(context.Background())
	defer regCancel()
	u := regtest.SocketURL(t, "reg.sock")
	startRegistry(t, regCtx, u, 200*time.Millisecond)
	_, obs := observer(t, regCtx, u)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := client.NewNSEClient(ctx, clientOpts(u, client.WithoutRefresh())...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Register(ctx, &registry.NetworkServiceEndpoint{Name: "nse-1"}); err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithCancel(regCtx)
	defer wcancel()
	w, _ := obs.Find(wctx, &registry.NetworkServiceEndpointQuery{NetworkServiceEndpoint: &registry.NetworkServiceEndpoint{Name: "nse-1"}, Watch: true})
	var seq []bool
	for len(seq) < 3 {
		r, err := regtest.Next(t, w, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		seq = append(seq, r.GetDeleted())
	}
	if seq[0] || !seq[1] || seq[2] {
		t.Fatalf("watch saw deleted=%v, want registered, expired, registered again", seq)
	}
}

func TestRegistersAgainAfterTheRegistryRestarts(t *testing.T) {
	u := regtest.SocketURL(t, "reg.sock")
	reg1Ctx, reg1Cancel := context.WithCancel(context.Background())
	stop1 := startRegistry(t, reg1Ctx, u, time.Minute)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	nse, err := client.NewNSEClient(ctx, clientOpts(u)...)
	if err != nil {
		t.Fatal(err)
	}
	ns, err := client.NewNSClient(ctx, clientOpts(u)...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ns.Register(ctx, &registry.NetworkService{Name: "red"}); err != nil {
		t.Fatal(err)
	}
	if _, err := nse.Register(ctx, &registry.NetworkServiceEndpoint{Name: "nse-1", NetworkServiceNames: []string{"red"}}); err != nil {
		t.Fatal(err)
	}

	reg1Cancel()
	stop1()
	reg2Ctx, reg2Cancel := context.WithCancel(context.Background())
	defer reg2Cancel()
	startRegistry(t, reg2Ctx, u, time.Minute)
	obsNS, obsNSE := observer(t, reg2Ctx, u)
	regtest.Eventually(t, 10*time.Second, func() bool {
		n := nseNames(t, reg2Ctx, obsNSE)
		return len(n) == 1 && n[0] == "nse-1"
	}, "endpoint registered with the new registry")
	regtest.Eventually(t, 10*time.Second, func() bool {
		n := nsNames(t, reg2Ctx, obsNS)
		return len(n) == 1 && n[0] == "red"
	}, "network service registered with the new registry")

	// An Unregister is not healed.
	if _, err := nse.Unregister(ctx, &registry.NetworkServiceEndpoint{Name: "nse-1"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if got := nseNames(t, reg2Ctx, obsNSE); len(got) != 0 {
		t.Fatalf("unregistered endpoint came back: %v", got)
	}
}

func TestBadInput(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	u := regtest.SocketURL(t, "reg.sock")
	startRegistry(t, ctx, u, time.Minute)
	c, err := client.NewNSEClient(ctx, clientOpts(u)...)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Register(ctx, &registry.NetworkServiceEndpoint{Url: "tcp://1.1.1.1:1"})
	if status.Code(err) != codes.InvalidArgument || status.Convert(err).Message() != "registry: network service endpoint has no name" {
		t.Fatalf("got %v", err)
	}
	if _, err := client.NewNSEClient(ctx, client.WithURL(&url.URL{Scheme: "http", Host: "x:1"})); err == nil {
		t.Fatal("http URL accepted")
	}
}
