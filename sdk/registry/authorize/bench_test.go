// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package authorize_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/peer"

	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/registry/adapters"
	"github.com/nsmesh/nsmesh/sdk/registry/authorize"
	"github.com/nsmesh/nsmesh/sdk/registry/grpcmetadata"
	"github.com/nsmesh/nsmesh/sdk/registry/memory"
	"github.com/nsmesh/nsmesh/sdk/tools/fakes"
)

// BenchmarkRegistryAuthorize is the native first-registrant check of an
// owner's refresh (path[0]'s token parsed, owner looked up and updated),
// with the in-memory store behind it.
func BenchmarkRegistryAuthorize(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := adapters.NSEServerToClient(chain.NewNSEServer(authorize.NewNSEServer(quiet()...), memory.NewNSEServer(ctx)))
	p := pathOf(b, "alice")
	nse := &registry.NetworkServiceEndpoint{Name: "nse-1", Url: "tcp://a:1"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Register(grpcmetadata.WithPath(ctx, p), nse); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMemoryStoreOnly is the same Register without authorize, to
// subtract.
func BenchmarkMemoryStoreOnly(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := adapters.NSEServerToClient(chain.NewNSEServer(memory.NewNSEServer(ctx)))
	p := pathOf(b, "alice")
	nse := &registry.NetworkServiceEndpoint{Name: "nse-1", Url: "tcp://a:1"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Register(grpcmetadata.WithPath(ctx, p), nse); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRegistryAuthorizeTLS adds what a caller with a certificate costs:
// its token's ES256 signature verified (caller_token_signed).
func BenchmarkRegistryAuthorizeTLS(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ca, err := fakes.NewSPIFFECA("test.com")
	if err != nil {
		b.Fatal(err)
	}
	alice, err := ca.Issue("spiffe://test.com/alice", time.Time{})
	if err != nil {
		b.Fatal(err)
	}
	gen, err := alice.Generator(time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	tok, _, err := gen.Generate(nil)
	if err != nil {
		b.Fatal(err)
	}
	c := adapters.NSEServerToClient(chain.NewNSEServer(authorize.NewNSEServer(quiet()...), memory.NewNSEServer(ctx)))
	p := &grpcmetadata.Path{Index: 1, PathSegments: []*grpcmetadata.PathSegment{{Token: tok}, {}}}
	callCtx := peer.NewContext(grpcmetadata.WithPath(ctx, p), &peer.Peer{AuthInfo: alice.AuthInfo()})
	nse := &registry.NetworkServiceEndpoint{Name: "nse-1", Url: "tcp://a:1"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Register(callCtx, nse); err != nil {
			b.Fatal(err)
		}
	}
}
