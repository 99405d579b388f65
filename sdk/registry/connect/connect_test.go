// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package connect_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/registry/begin"
	"github.com/nsmesh/nsmesh/sdk/registry/connect"
	"github.com/nsmesh/nsmesh/sdk/registry/internal/regtest"
	"github.com/nsmesh/nsmesh/sdk/registry/memory"
	"github.com/nsmesh/nsmesh/sdk/tools/clienturlctx"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func serveMemory(t *testing.T, ctx context.Context, name string) *url.URL {
	t.Helper()
	u := regtest.SocketURL(t, name)
	regtest.Serve(t, u, memory.NewNSServer(ctx), memory.NewNSEServer(ctx))
	return u
}

func TestCallsReachTheRegistry(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	u := serveMemory(t, ctx, "reg.sock")
	conn, err := connect.NewNSEClient(ctx, connect.WithURL(u), connect.WithDialOptions(regtest.Insecure()))
	if err != nil {
		t.Fatal(err)
	}
	c := chain.NewNSEClient(begin.NewNSEClient(), conn)
	if _, err := c.Register(ctx, &registry.NetworkServiceEndpoint{Name: "a", Url: "x"}); err != nil {
		t.Fatal(err)
	}
	s, err := c.Find(ctx, &registry.NetworkServiceEndpointQuery{NetworkServiceEndpoint: &registry.NetworkServiceEndpoint{}})
	if err != nil {
		t.Fatal(err)
	}
	if got := regtest.All(t, s); len(got) != 1 || got[0].GetNetworkServiceEndpoint().GetName() != "a" {
		t.Fatalf("found %v", got)
	}
	// A watch ends when its context does.
	wctx, wcancel := context.WithCancel(ctx)
	w, err := c.Find(wctx, &registry.NetworkServiceEndpointQuery{NetworkServiceEndpoint: &registry.NetworkServiceEndpoint{}, Watch: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := regtest.Next(t, w, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	wcancel()
	if _, err := regtest.Next(t, w, 5*time.Second); status.Code(err) != codes.Canceled {
		t.Fatalf("watch after cancel: %v", err)
	}
	if _, err := c.Unregister(ctx, &registry.NetworkServiceEndpoint{Name: "a"}); err != nil {
		t.Fatal(err)
	}
}

func TestURLChoice(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	good := serveMemory(t, ctx, "good.sock")
	missing := regtest.SocketURL(t, "missing.sock")

	tests := []struct {
		name     string
		opt      *url.URL
		ctxURL   *url.URL
		wantCode codes.Code
	}{
		{"option", good, nil, codes.OK},
		{"context", nil, good, codes.OK},
		{"option wins over context", good, missing, codes.OK},
		{"none", nil, nil, codes.FailedPrecondition},
		{"unreachable", missing, nil, codes.Unavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := []connect.Option{connect.WithDialOptions(regtest.Insecure()), connect.WithDialTimeout(300 * time.Millisecond)}
			if tt.opt != nil {
				opts = append(opts, connect.WithURL(tt.opt))
			}
			c, err := connect.NewNSClient(ctx, opts...)
			if err != nil {
				t.Fatal(err)
			}
			callCtx := ctx
			if tt.ctxURL != nil {
				callCtx = clienturlctx.WithClientURL(ctx, tt.ctxURL)
			}
			start := time.Now()
			_, err = chain.NewNSClient(c).Register(callCtx, &registry.NetworkService{Name: "ns"})
			if status.Code(err) != tt.wantCode {
				t.Fatalf("got %v, want %s", err, tt.wantCode)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Fatalf("took %s", d)
			}
		})
	}
}

func TestBadOptions(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := connect.NewNSEClient(ctx, connect.WithDialTimeout(-1)); err == nil {
		t.Fatal("negative dial timeout accepted")
	}
	if _, err := connect.NewNSEClient(ctx, connect.WithURL(&url.URL{Scheme: "http", Host: "x"})); err == nil {
		t.Fatal("http URL accepted")
	}
}
