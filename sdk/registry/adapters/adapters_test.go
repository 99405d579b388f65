// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package adapters_test

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/registry/adapters"
	"github.com/nsmesh/nsmesh/sdk/registry/internal/regtest"
	"github.com/nsmesh/nsmesh/sdk/registry/memory"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// mark appends its letter to the URL on the way in.
type mark struct {
	chain.NSEServerLink
	s string
}

func (m *mark) Register(ctx context.Context, nse *registry.NetworkServiceEndpoint) (*registry.NetworkServiceEndpoint, error) {
	nse.Url += m.s
	return m.Next().Register(ctx, nse)
}
func (m *mark) Find(q *registry.NetworkServiceEndpointQuery, srv grpc.ServerStreamingServer[registry.NetworkServiceEndpointResponse]) error {
	return m.Next().Find(q, srv)
}
func (m *mark) Unregister(ctx context.Context, nse *registry.NetworkServiceEndpoint) (*emptypb.Empty, error) {
	return m.Next().Unregister(ctx, nse)
}

type cmark struct {
	chain.NSEClientLink
	s string
}

func (m *cmark) Register(ctx context.Context, nse *registry.NetworkServiceEndpoint, opts ...grpc.CallOption) (*registry.NetworkServiceEndpoint, error) {
	nse.Url += m.s
	return m.Next().Register(ctx, nse, opts...)
}
func (m *cmark) Find(ctx context.Context, q *registry.NetworkServiceEndpointQuery, opts ...grpc.CallOption) (registry.NetworkServiceEndpointRegistry_FindClient, error) {
	return m.Next().Find(ctx, q, opts...)
}
func (m *cmark) Unregister(ctx context.Context, nse *registry.NetworkServiceEndpoint, opts ...grpc.CallOption) (*emptypb.Empty, error) {
	return m.Next().Unregister(ctx, nse, opts...)
}

func TestAdaptersContinueTheOuterChain(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := chain.NewNSEServer(&mark{s: "a"}, adapters.NSEClientToServer(&cmark{s: "B"}), &mark{s: "c"}, memory.NewNSEServer(ctx))
	cli := chain.NewNSEClient(&cmark{s: "A"}, adapters.NSEServerToClient(&mark{s: "b"}), &cmark{s: "C"}, adapters.NSEServerToClient(srv))
	got, err := cli.Register(ctx, &registry.NetworkServiceEndpoint{Name: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetUrl() != "AbCaBc" {
		t.Fatalf("passed %q, want AbCaBc", got.GetUrl())
	}
	s, err := cli.Find(ctx, &registry.NetworkServiceEndpointQuery{NetworkServiceEndpoint: &registry.NetworkServiceEndpoint{}})
	if err != nil {
		t.Fatal(err)
	}
	if all := regtest.All(t, s); len(all) != 1 || all[0].GetNetworkServiceEndpoint().GetUrl() != "AbCaBc" {
		t.Fatalf("Find through both adapters: %v", all)
	}
}

func TestInProcessWatchEndsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := adapters.NSEServerToClient(memory.NewNSEServer(ctx))
	wctx, wcancel := context.WithCancel(ctx)
	s, err := c.Find(wctx, &registry.NetworkServiceEndpointQuery{NetworkServiceEndpoint: &registry.NetworkServiceEndpoint{}, Watch: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Register(ctx, &registry.NetworkServiceEndpoint{Name: "x"}); err != nil {
		t.Fatal(err)
	}
	if r, err := regtest.Next(t, s, 5*time.Second); err != nil || r.GetNetworkServiceEndpoint().GetName() != "x" {
		t.Fatalf("watch got %v, %v", r, err)
	}
	wcancel()
	if _, err := regtest.Next(t, s, 5*time.Second); status.Code(err) != codes.Canceled {
		t.Fatalf("after cancel: %v", err)
	}
	// goleak in TestMain checks that the server goroutine ended too.
}

func TestAloneTheyEndTheChain(t *testing.T) {
	ctx := context.Background()
	nse := &registry.NetworkServiceEndpoint{Name: "x"}
	if got, err := adapters.NSEServerToClient(&mark{s: "a"}).Register(ctx, nse); err != nil || got.GetUrl() != "a" {
		t.Fatalf("server adapter alone: %v, %v", got, err)
	}
	if got, err := adapters.NSEClientToServer(&cmark{s: "b"}).Register(ctx, &registry.NetworkServiceEndpoint{Name: "y"}); err != nil || got.GetUrl() != "b" {
		t.Fatalf("client adapter alone: %v, %v", got, err)
	}
	s, err := adapters.NSEServerToClient(&mark{s: "a"}).Find(ctx, &registry.NetworkServiceEndpointQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if got := regtest.All(t, s); len(got) != 0 {
		t.Fatalf("empty chain found %v", got)
	}
}
