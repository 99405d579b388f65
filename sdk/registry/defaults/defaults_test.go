// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package defaults_test

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/registry/begin"
	"github.com/nsmesh/nsmesh/sdk/registry/defaults"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestPayload(t *testing.T) {
	tests := []struct{ def, in, want string }{
		{"", "", "IP"},
		{"", "ETHERNET", "ETHERNET"},
		{"ETHERNET", "", "ETHERNET"},
		{"ETHERNET", "IP", "IP"},
	}
	for _, tt := range tests {
		in := &registry.NetworkService{Name: "ns", Payload: tt.in}
		got, err := chain.NewNSServer(defaults.NewPayloadServer(tt.def)).Register(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		if got.GetPayload() != tt.want || in.GetPayload() != tt.in {
			t.Fatalf("default %q, in %q: got %q (input now %q), want %q", tt.def, tt.in, got.GetPayload(), in.GetPayload(), tt.want)
		}
	}
}

func TestRegistrationTimeIsKept(t *testing.T) {
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	srv := chain.NewNSEServer(begin.NewNSEServer(), defaults.NewRegistrationTimeServer(clock))
	ctx := context.Background()
	first, err := srv.Register(ctx, &registry.NetworkServiceEndpoint{Name: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if !first.GetInitialRegistrationTime().AsTime().Equal(now) {
		t.Fatalf("first registration time %v", first.GetInitialRegistrationTime())
	}
	now = now.Add(time.Minute)
	for _, refresh := range []*registry.NetworkServiceEndpoint{
		{Name: "a"}, // left out
		{Name: "a", InitialRegistrationTime: timestamppb.New(now.Add(time.Hour))}, // changed
	} {
		got, err := srv.Register(ctx, refresh)
		if err != nil {
			t.Fatal(err)
		}
		if !got.GetInitialRegistrationTime().AsTime().Equal(now.Add(-time.Minute)) {
			t.Fatalf("refresh changed the registration time to %v", got.GetInitialRegistrationTime().AsTime())
		}
	}
	if _, err := srv.Unregister(ctx, &registry.NetworkServiceEndpoint{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	again, _ := srv.Register(ctx, &registry.NetworkServiceEndpoint{Name: "a"})
	if !again.GetInitialRegistrationTime().AsTime().Equal(now) {
		t.Fatalf("a new registration after Unregister kept the old time %v", again.GetInitialRegistrationTime().AsTime())
	}
}
