// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package retry_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/registry/retry"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// flaky fails its first failures calls with code, blocking until the try's
// context ends when block is set.
type flaky struct {
	chain.NSEClientLink
	failures int32
	code     codes.Code
	block    bool
	calls    atomic.Int32
}

func (f *flaky) try(ctx context.Context) error {
	if f.calls.Add(1) > f.failures {
		return nil
	}
	if f.block {
		<-ctx.Done()
		return status.FromContextError(ctx.Err()).Err()
	}
	return status.Error(f.code, "injected")
}

func (f *flaky) Register(ctx context.Context, nse *registry.NetworkServiceEndpoint, _ ...grpc.CallOption) (*registry.NetworkServiceEndpoint, error) {
	if err := f.try(ctx); err != nil {
		return nil, err
	}
	return nse, nil
}
func (f *flaky) Find(ctx context.Context, _ *registry.NetworkServiceEndpointQuery, _ ...grpc.CallOption) (registry.NetworkServiceEndpointRegistry_FindClient, error) {
	if err := f.try(ctx); err != nil {
		return nil, err
	}
	return &chain.EmptyStream[registry.NetworkServiceEndpointResponse]{Ctx: ctx}, nil
}
func (f *flaky) Unregister(ctx context.Context, _ *registry.NetworkServiceEndpoint, _ ...grpc.CallOption) (*emptypb.Empty, error) {
	if err := f.try(ctx); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

func TestRetry(t *testing.T) {
	calls := map[string]func(context.Context, registry.NetworkServiceEndpointRegistryClient) error{
		"Register": func(ctx context.Context, c registry.NetworkServiceEndpointRegistryClient) error {
			_, err := c.Register(ctx, &registry.NetworkServiceEndpoint{Name: "a"})
			return err
		},
		"Find": func(ctx context.Context, c registry.NetworkServiceEndpointRegistryClient) error {
			_, err := c.Find(ctx, &registry.NetworkServiceEndpointQuery{})
			return err
		},
		"Unregister": func(ctx context.Context, c registry.NetworkServiceEndpointRegistryClient) error {
			_, err := c.Unregister(ctx, &registry.NetworkServiceEndpoint{Name: "a"})
			return err
		},
	}
	tests := []struct {
		name      string
		f         func() *flaky
		ctxFor    time.Duration
		wantCode  codes.Code
		wantCalls int32
	}{
		{"succeeds after failures", func() *flaky { return &flaky{failures: 3, code: codes.Unavailable} }, 5 * time.Second, codes.OK, 4},
		{"permanent error at once", func() *flaky { return &flaky{failures: 3, code: codes.InvalidArgument} }, 5 * time.Second, codes.InvalidArgument, 1},
		{"gives up when the context ends", func() *flaky { return &flaky{failures: 1000, code: codes.Unavailable} }, 250 * time.Millisecond, codes.Unavailable, 0},
	}
	for name, call := range calls {
		for _, tt := range tests {
			t.Run(name+"/"+tt.name, func(t *testing.T) {
				f := tt.f()
				c, err := retry.NewNSEClient(retry.WithInterval(20 * time.Millisecond))
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), tt.ctxFor)
				defer cancel()
				err = call(ctx, chain.NewNSEClient(c, f))
				if status.Code(err) != tt.wantCode {
					t.Fatalf("got %v, want %s", err, tt.wantCode)
				}
				if got := f.calls.Load(); tt.wantCalls > 0 && got != tt.wantCalls {
					t.Fatalf("%d calls, want %d", got, tt.wantCalls)
				}
			})
		}
	}
}

func TestTryTimeout(t *testing.T) {
	f := &flaky{failures: 1, block: true}
	c, err := retry.NewNSEClient(retry.WithInterval(10*time.Millisecond), retry.WithTryTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if _, err := chain.NewNSEClient(c, f).Register(ctx, &registry.NetworkServiceEndpoint{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second || f.calls.Load() != 2 {
		t.Fatalf("a hanging try was not cut: %s, %d calls", d, f.calls.Load())
	}
}

func TestBadOptions(t *testing.T) {
	if _, err := retry.NewNSClient(retry.WithInterval(0)); err == nil {
		t.Fatal("zero interval accepted")
	}
}
