// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package refresh_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/registry/begin"
	"github.com/nsmesh/nsmesh/sdk/registry/refresh"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// registrar grants min(asked, now+lifetime) like expire and records what it
// was asked for; it fails while failing is set.
type registrar struct {
	chain.NSEClientLink
	lifetime time.Duration
	mu       sync.Mutex
	asked    []*timestamppb.Timestamp
	at       []time.Time
	failing  bool
}

func (r *registrar) Register(_ context.Context, nse *registry.NetworkServiceEndpoint, _ ...grpc.CallOption) (*registry.NetworkServiceEndpoint, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.asked = append(r.asked, nse.GetExpirationTime())
	r.at = append(r.at, time.Now())
	if r.failing {
		return nil, status.Error(codes.Unavailable, "injected")
	}
	exp := time.Now().Add(r.lifetime)
	if a := nse.GetExpirationTime(); a != nil && a.AsTime().Before(exp) {
		exp = a.AsTime()
	}
	out := proto.Clone(nse).(*registry.NetworkServiceEndpoint)
	out.ExpirationTime = timestamppb.New(exp)
	return out, nil
}
func (r *registrar) Find(ctx context.Context, _ *registry.NetworkServiceEndpointQuery, _ ...grpc.CallOption) (registry.NetworkServiceEndpointRegistry_FindClient, error) {
	return &chain.EmptyStream[registry.NetworkServiceEndpointResponse]{Ctx: ctx}, nil
}
func (r *registrar) Unregister(context.Context, *registry.NetworkServiceEndpoint, ...grpc.CallOption) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func (r *registrar) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.asked)
}

func TestRefreshAtTwoThirds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reg := &registrar{lifetime: 300 * time.Millisecond}
	c := chain.NewNSEClient(begin.NewNSEClient(), refresh.NewNSEClient(ctx), reg)
	resp, err := c.Register(ctx, &registry.NetworkServiceEndpoint{Name: "a"})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond)
	reg.mu.Lock()
	n, at := len(reg.asked), append([]time.Time(nil), reg.at...)
	for i, a := range reg.asked {
		if a != nil {
			t.Errorf("Register %d asked for %v; the registrant asked for nothing", i, a.AsTime())
		}
	}
	reg.mu.Unlock()
	// 300 ms lifetimes refreshed every 200 ms: 3 or 4 Registers in 700 ms.
	if n < 3 || n > 4 {
		t.Fatalf("%d Registers in 700ms", n)
	}
	if gap := at[1].Sub(at[0]); gap < 150*time.Millisecond || gap > 300*time.Millisecond {
		t.Fatalf("first refresh after %s, want about 200ms", gap)
	}
	// Sending back the answer asks for the same lifetime again, not for its
	// (by now close) instant.
	before := reg.count()
	if _, err := c.Register(ctx, resp); err != nil {
		t.Fatal(err)
	}
	reg.mu.Lock()
	if a := reg.asked[before]; a != nil {
		t.Errorf("resending the answer asked for %v", a.AsTime())
	}
	reg.mu.Unlock()

	if _, err := c.Unregister(ctx, &registry.NetworkServiceEndpoint{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	after := reg.count()
	time.Sleep(400 * time.Millisecond)
	if reg.count() != after {
		t.Fatal("refresh went on after Unregister")
	}
}

func TestRefreshKeepsTheAskedLifetime(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reg := &registrar{lifetime: time.Hour}
	c := chain.NewNSEClient(begin.NewNSEClient(), refresh.NewNSEClient(ctx), reg)
	if _, err := c.Register(ctx, &registry.NetworkServiceEndpoint{Name: "a", ExpirationTime: timestamppb.New(time.Now().Add(300 * time.Millisecond))}); err != nil {
		t.Fatal(err)
	}
	regWait(t, reg, 3)
	reg.mu.Lock()
	defer reg.mu.Unlock()
	for i := 1; i < len(reg.asked); i++ {
		d := reg.asked[i].AsTime().Sub(reg.at[i])
		if d < 250*time.Millisecond || d > 310*time.Millisecond {
			t.Fatalf("refresh %d asked for %s, want the registrant's 300ms", i, d)
		}
	}
}

func TestFailedRefreshIsTriedAgain(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reg := &registrar{lifetime: 600 * time.Millisecond}
	c := chain.NewNSEClient(begin.NewNSEClient(), refresh.NewNSEClient(ctx), reg)
	if _, err := c.Register(ctx, &registry.NetworkServiceEndpoint{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	reg.mu.Lock()
	reg.failing = true
	reg.mu.Unlock()
	regWait(t, reg, 3) // the refresh and at least one retry failed
	reg.mu.Lock()
	reg.failing = false
	reg.mu.Unlock()
	n := reg.count()
	regWait(t, reg, n+1)
}

func TestNeedsBegin(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := chain.NewNSEClient(refresh.NewNSEClient(ctx), &registrar{}).Register(ctx, &registry.NetworkServiceEndpoint{Name: "a"})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("got %v", err)
	}
}

func regWait(t *testing.T, r *registrar, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for r.count() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d Registers, want %d", r.count(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
