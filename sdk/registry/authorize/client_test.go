// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package authorize_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/registry/authorize"
	"github.com/nsmesh/nsmesh/sdk/registry/grpcmetadata"
)

// The client checks the path the registry returned: a refused new
// registration is removed again, a refused refresh is left in place.
func TestClient(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := newReg(t, ctx, time.Hour, authorize.NewNSServer(quiet()...), authorize.NewNSEServer(quiet()...))
	_, raw := r.as("alice")

	var deny atomic.Bool
	var seen atomic.Value
	policy := authorize.NewPolicy("returned_path", func(_ context.Context, in *authorize.Input) error {
		seen.Store(*in)
		if deny.Load() {
			return errors.New("the registry is not trusted")
		}
		return nil
	})
	c := chain.NewNSEClient(authorize.NewNSEClient(quiet(authorize.WithPolicies(policy))...), grpcmetadata.NewNSEClient(), raw)

	deny.Store(true)
	_, err := c.Register(ctx, &registry.NetworkServiceEndpoint{Name: "nse-1", Url: "tcp://alice:1"})
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("refused new registration: %v, want PermissionDenied", err)
	}
	if got := r.nses(); len(got) != 0 {
		t.Fatalf("a refused new registration stays registered: %v", got)
	}
	in := seen.Load().(authorize.Input)
	if in.ResourceID != td+"alice" || in.ResourceName != "nse-1" || len(in.Path.PathSegments) != 2 || in.Kind != "nse" {
		t.Fatalf("policy saw %+v, want alice's nse-1 with the 2-hop returned path", in)
	}

	deny.Store(false)
	if _, err := c.Register(ctx, &registry.NetworkServiceEndpoint{Name: "nse-1", Url: "tcp://alice:1"}); err != nil {
		t.Fatal(err)
	}
	deny.Store(true)
	_, err = c.Register(ctx, &registry.NetworkServiceEndpoint{Name: "nse-1", Url: "tcp://alice:2"})
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("refused refresh: %v, want PermissionDenied", err)
	}
	if got := r.nses(); got["nse-1"] != "tcp://alice:2" {
		t.Fatalf("a refused refresh was undone: %v", got)
	}
	// Unregister is not checked; afterwards the name counts as new again.
	if _, err := c.Unregister(ctx, &registry.NetworkServiceEndpoint{Name: "nse-1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Register(ctx, &registry.NetworkServiceEndpoint{Name: "nse-1"}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("got %v", err)
	}
	if got := r.nses(); len(got) != 0 {
		t.Fatalf("registry holds %v", got)
	}
}

func TestClientWithoutPoliciesPassesThrough(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := newReg(t, ctx, time.Hour, authorize.NewNSServer(quiet()...), authorize.NewNSEServer(quiet()...))
	rawNS, _ := r.as("alice")
	c := chain.NewNSClient(authorize.NewNSClient(quiet()...), grpcmetadata.NewNSClient(), rawNS)
	if _, err := c.Register(ctx, &registry.NetworkService{Name: "red"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Unregister(ctx, &registry.NetworkService{Name: "red"}); err != nil {
		t.Fatal(err)
	}
}
