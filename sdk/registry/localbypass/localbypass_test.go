// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package localbypass_test

import (
	"context"
	"net/url"
	"sort"
	"testing"

	"go.uber.org/goleak"

	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/registry/adapters"
	"github.com/nsmesh/nsmesh/sdk/registry/internal/regtest"
	"github.com/nsmesh/nsmesh/sdk/registry/localbypass"
	"github.com/nsmesh/nsmesh/sdk/registry/memory"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const nsmgrURL = "tcp://10.0.0.1:5001"

func find(t *testing.T, c registry.NetworkServiceEndpointRegistryClient, q *registry.NetworkServiceEndpoint) map[string]string {
	t.Helper()
	s, err := c.Find(context.Background(), &registry.NetworkServiceEndpointQuery{NetworkServiceEndpoint: q})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range regtest.All(t, s) {
		out[r.GetNetworkServiceEndpoint().GetName()] = r.GetNetworkServiceEndpoint().GetUrl()
	}
	return out
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestLocalBypass(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	u, _ := url.Parse(nsmgrURL)
	bypass, err := localbypass.NewServer(u)
	if err != nil {
		t.Fatal(err)
	}
	// upstream stands for the central registry: what it holds is what other
	// nodes see.
	central := adapters.NSEServerToClient(memory.NewNSEServer(ctx))
	nsmgr := adapters.NSEServerToClient(chain.NewNSEServer(bypass, adapters.NSEClientToServer(central)))

	resp, err := nsmgr.Register(ctx, &registry.NetworkServiceEndpoint{Name: "local", Url: "unix:///run/nse.sock"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetUrl() != "unix:///run/nse.sock" {
		t.Fatalf("registrant got url %q back, want its own", resp.GetUrl())
	}
	// Registered centrally under the nsmgr's URL.
	if got := find(t, central, &registry.NetworkServiceEndpoint{Name: "local"}); got["local"] != nsmgrURL {
		t.Fatalf("central registry holds %v", got)
	}
	// A remote endpoint and a stale one from before an nsmgr restart.
	for _, nse := range []*registry.NetworkServiceEndpoint{
		{Name: "remote", Url: "tcp://10.0.0.2:5001"},
		{Name: "stale", Url: nsmgrURL},
	} {
		if _, err := central.Register(ctx, nse); err != nil {
			t.Fatal(err)
		}
	}

	tests := []struct {
		name  string
		query *registry.NetworkServiceEndpoint
		want  map[string]string
	}{
		{"all", &registry.NetworkServiceEndpoint{}, map[string]string{"local": "unix:///run/nse.sock", "remote": "tcp://10.0.0.2:5001"}},
		{"by name", &registry.NetworkServiceEndpoint{Name: "local"}, map[string]string{"local": "unix:///run/nse.sock"}},
		{"registered through this nsmgr", &registry.NetworkServiceEndpoint{Url: nsmgrURL}, map[string]string{"local": "unix:///run/nse.sock"}},
		{"stale by name", &registry.NetworkServiceEndpoint{Name: "stale"}, map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := find(t, nsmgr, tt.query)
			if len(got) != len(tt.want) {
				t.Fatalf("found %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Fatalf("found %v, want %v", got, tt.want)
				}
			}
		})
	}

	if _, err := nsmgr.Unregister(ctx, &registry.NetworkServiceEndpoint{Name: "local", Url: "unix:///run/nse.sock"}); err != nil {
		t.Fatal(err)
	}
	if got := keys(find(t, central, &registry.NetworkServiceEndpoint{})); len(got) != 2 || got[0] != "remote" || got[1] != "stale" {
		t.Fatalf("after Unregister the central registry holds %v", got)
	}
	if got := find(t, nsmgr, &registry.NetworkServiceEndpoint{Url: nsmgrURL}); len(got) != 0 {
		t.Fatalf("after Unregister the nsmgr still reports %v", got)
	}
}

func TestNeedsAURL(t *testing.T) {
	if _, err := localbypass.NewServer(nil); err == nil {
		t.Fatal("nil URL accepted")
	}
}
