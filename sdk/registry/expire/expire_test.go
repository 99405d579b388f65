// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package expire_test

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/registry/adapters"
	"github.com/nsmesh/nsmesh/sdk/registry/begin"
	"github.com/nsmesh/nsmesh/sdk/registry/expire"
	"github.com/nsmesh/nsmesh/sdk/registry/internal/regtest"
	"github.com/nsmesh/nsmesh/sdk/registry/memory"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newRegistry(t *testing.T, ctx context.Context, d time.Duration, now func() time.Time) registry.NetworkServiceEndpointRegistryClient {
	t.Helper()
	opts := []expire.Option{expire.WithDefaultExpiration(d)}
	if now != nil {
		opts = append(opts, expire.WithClock(now))
	}
	exp, err := expire.NewServer(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return adapters.NSEServerToClient(chain.NewNSEServer(begin.NewNSEServer(), exp, memory.NewNSEServer(ctx)))
}

func TestExpirationTime(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := func() time.Time { return now }
	tests := []struct {
		name  string
		asked *timestamppb.Timestamp
		want  time.Time
	}{
		{"none asked: default", nil, now.Add(time.Hour)},
		{"shorter asked: kept", timestamppb.New(now.Add(time.Minute)), now.Add(time.Minute)},
		{"longer asked: cut", timestamppb.New(now.Add(2 * time.Hour)), now.Add(time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			c := newRegistry(t, ctx, time.Hour, clock)
			resp, err := c.Register(ctx, &registry.NetworkServiceEndpoint{Name: "a", ExpirationTime: tt.asked})
			if err != nil {
				t.Fatal(err)
			}
			if got := resp.GetExpirationTime().AsTime(); !got.Equal(tt.want) {
				t.Fatalf("expiration_time %s, want %s", got, tt.want)
			}
		})
	}
}

func TestExpiryUnregistersAndWatchersSeeIt(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := newRegistry(t, ctx, 200*time.Millisecond, nil)
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	w, err := c.Find(wctx, &registry.NetworkServiceEndpointQuery{NetworkServiceEndpoint: &registry.NetworkServiceEndpoint{}, Watch: true})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := c.Register(ctx, &registry.NetworkServiceEndpoint{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	r, err := regtest.Next(t, w, 5*time.Second)
	if err != nil || r.GetDeleted() || r.GetNetworkServiceEndpoint().GetName() != "a" {
		t.Fatalf("first update %v, %v; want the registration", r, err)
	}
	r, err = regtest.Next(t, w, 5*time.Second)
	if err != nil || !r.GetDeleted() || r.GetNetworkServiceEndpoint().GetName() != "a" {
		t.Fatalf("second update %v, %v; want the deletion", r, err)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("expired after %s, before its time", d)
	}
	s, _ := c.Find(ctx, &registry.NetworkServiceEndpointQuery{NetworkServiceEndpoint: &registry.NetworkServiceEndpoint{}})
	if got := regtest.All(t, s); len(got) != 0 {
		t.Fatalf("store still holds %v", got)
	}
}

func TestRefreshPostponesExpiry(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := newRegistry(t, ctx, 300*time.Millisecond, nil)
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		if _, err := c.Register(ctx, &registry.NetworkServiceEndpoint{Name: "a"}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	s, _ := c.Find(ctx, &registry.NetworkServiceEndpointQuery{NetworkServiceEndpoint: &registry.NetworkServiceEndpoint{Name: "a"}})
	if got := regtest.All(t, s); len(got) != 1 {
		t.Fatalf("refreshed registration is gone after %s", time.Second)
	}
	// Unregister stops the timer: a later Register of the name must live its
	// full time even though the old timer would have fired in between.
	if _, err := c.Unregister(ctx, &registry.NetworkServiceEndpoint{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond)
	if _, err := c.Register(ctx, &registry.NetworkServiceEndpoint{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	s, _ = c.Find(ctx, &registry.NetworkServiceEndpointQuery{NetworkServiceEndpoint: &registry.NetworkServiceEndpoint{Name: "a"}})
	if got := regtest.All(t, s); len(got) != 1 {
		t.Fatal("an old timer removed a new registration")
	}
}

func TestTimersStopWithTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	storeCtx, storeCancel := context.WithCancel(context.Background())
	defer storeCancel()
	exp, err := expire.NewServer(ctx, expire.WithDefaultExpiration(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	c := adapters.NSEServerToClient(chain.NewNSEServer(begin.NewNSEServer(), exp, memory.NewNSEServer(storeCtx)))
	if _, err := c.Register(storeCtx, &registry.NetworkServiceEndpoint{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	cancel()
	time.Sleep(300 * time.Millisecond)
	s, _ := c.Find(storeCtx, &registry.NetworkServiceEndpointQuery{NetworkServiceEndpoint: &registry.NetworkServiceEndpoint{Name: "a"}})
	if got := regtest.All(t, s); len(got) != 1 {
		t.Fatal("a timer fired after the context was done")
	}
}

func TestNeedsBeginAndAPositiveExpiration(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := expire.NewServer(ctx, expire.WithDefaultExpiration(0)); err == nil {
		t.Fatal("zero expiration accepted")
	}
	exp, err := expire.NewServer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = chain.NewNSEServer(exp).Register(ctx, &registry.NetworkServiceEndpoint{Name: "a"})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("without begin: %v, want FailedPrecondition", err)
	}
}
