// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package opa_test

import (
	"context"
	"testing"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/networkservice/authorize"
	regauthorize "github.com/nsmesh/nsmesh/sdk/registry/authorize"
	"github.com/nsmesh/nsmesh/sdk/registry/grpcmetadata"
	"github.com/nsmesh/nsmesh/sdk/tools/opa"
)

// BenchmarkAllowedClients is the shipped example policy alone, per hop: the
// input built from a 4-segment path with a peer certificate, the prepared
// query evaluated (one io.jwt.decode).
func BenchmarkAllowedClients(b *testing.B) {
	h := newHops(b, "alice", "nsmgr", "fwd", "nse")
	ps, err := opa.Load(context.Background(), []string{shipped(b, `{"allowed_clients":["spiffe://test.com/alice"]}`)})
	if err != nil {
		b.Fatal(err)
	}
	p := opa.ConnectionPolicies(ps)[0]
	conn := h.path(b, "alice")
	in := &authorize.Input{Segments: conn.GetPath().GetPathSegments(), Index: 3, PeerCert: h.svid["fwd"].Cert}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Check(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuthorizeWithRego is a whole server authorize hop: the native
// defaults (4 tokens parsed, 1 ES256 verification) and then the example
// policy.
func BenchmarkAuthorizeWithRego(b *testing.B) {
	h := newHops(b, "alice", "nsmgr", "fwd", "nse")
	ps, err := opa.Load(context.Background(), []string{shipped(b, `{"allowed_clients":["spiffe://test.com/alice"]}`)})
	if err != nil {
		b.Fatal(err)
	}
	srv := chain.NewServer(authorize.NewServer(authorize.WithAdditionalPolicies(opa.ConnectionPolicies(ps)...)), &endpoint{})
	req := &networkservice.NetworkServiceRequest{Connection: h.path(b, "alice")}
	ctx := h.peerCtx("fwd")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := srv.Request(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRegistryRego is upstream's client_allowed registry policy in Rego
// on an owned name.
func BenchmarkRegistryRego(b *testing.B) {
	f := write(b, b.TempDir(), "client_allowed.rego", clientAllowed)
	ps, err := opa.Load(context.Background(), []string{f})
	if err != nil {
		b.Fatal(err)
	}
	p := opa.RegistryPolicies(ps)[0]
	in := &regauthorize.Input{
		Kind: "nse", ResourceName: "nse-1", ResourceID: "spiffe://x/a", Owned: true, Owner: "spiffe://x/a",
		OwnerPathIDs: []string{"spiffe://x/a", "spiffe://x/nsmgr", "spiffe://x/reg"},
		Path:         &grpcmetadata.Path{Index: 2, PathSegments: []*grpcmetadata.PathSegment{{Token: "a"}, {Token: "b"}, {Token: "c"}}},
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Check(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}
