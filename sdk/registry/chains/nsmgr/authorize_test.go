// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package nsmgr_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/registry/chains/client"
	"github.com/nsmesh/nsmesh/sdk/registry/chains/nsmgr"
	"github.com/nsmesh/nsmesh/sdk/registry/internal/regtest"
)

// By default the nsmgr and the central registry both hold endpoint names for
// their first registrant: another identity can take over or remove an
// endpoint neither through the nsmgr nor by going to the registry directly,
// and an expired registration frees the name everywhere.
func TestOwnershipThroughTheNSMgr(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m := start(t, ctx, nsmgr.WithDefaultExpiration(500*time.Millisecond))
	as := func(u string, id string) registry.NetworkServiceEndpointRegistryClient {
		c, err := client.NewNSEClient(ctx, client.WithURL(mustURL(t, u)),
			client.WithDialOptions(dialWith(generator(t, id))...), client.WithoutRefresh(), client.WithoutHeal(), client.WithoutRetry())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	owner := as(m.mgrURL.String(), "spiffe://test/nse-a")
	intruder := as(m.mgrURL.String(), "spiffe://test/nse-b")
	direct := as(m.regURL.String(), "spiffe://test/nse-b")
	_, central := plain(t, m.regURL)

	if _, err := owner.Register(ctx, &registry.NetworkServiceEndpoint{Name: "nse-1", Url: "unix:///run/a.sock"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"register through the nsmgr", func() error {
			_, err := intruder.Register(ctx, &registry.NetworkServiceEndpoint{Name: "nse-1", Url: "unix:///run/b.sock"})
			return err
		}},
		{"unregister through the nsmgr", func() error {
			_, err := intruder.Unregister(ctx, &registry.NetworkServiceEndpoint{Name: "nse-1"})
			return err
		}},
		{"register at the registry", func() error {
			_, err := direct.Register(ctx, &registry.NetworkServiceEndpoint{Name: "nse-1", Url: "tcp://198.51.100.1:5001"})
			return err
		}},
		{"unregister at the registry", func() error {
			_, err := direct.Unregister(ctx, &registry.NetworkServiceEndpoint{Name: "nse-1"})
			return err
		}},
	} {
		err := tc.call()
		if status.Code(err) != codes.PermissionDenied ||
			!strings.Contains(err.Error(), "spiffe://test/nse-a") || !strings.Contains(err.Error(), "spiffe://test/nse-b") {
			t.Fatalf("%s: %v, want PermissionDenied naming owner and caller", tc.name, err)
		}
		if got := urls(t, ctx, central, &registry.NetworkServiceEndpoint{}); len(got) != 1 || got["nse-1"] != nsmgrPublic {
			t.Fatalf("%s changed the registry: %v", tc.name, got)
		}
	}
	// The owner stops refreshing: once expired, the other identity may use the name.
	regtest.Eventually(t, 5*time.Second, func() bool {
		return len(urls(t, ctx, central, &registry.NetworkServiceEndpoint{})) == 0
	}, "the registration expires")
	if _, err := intruder.Register(ctx, &registry.NetworkServiceEndpoint{Name: "nse-1", Url: "unix:///run/b.sock"}); err != nil {
		t.Fatalf("expired name refused: %v", err)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
