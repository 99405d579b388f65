// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package updatepath_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/registry/grpcmetadata"
	"github.com/nsmesh/nsmesh/sdk/registry/updatepath"
	"github.com/nsmesh/nsmesh/sdk/token"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func generator(t *testing.T, sub string, lifetime time.Duration) *token.JWTGenerator {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	g, err := token.NewJWTGenerator(key, sub, lifetime)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// inside records what the rest of the chain sees.
type inside struct {
	chain.NSEServerLink
	path   *grpcmetadata.Path
	ids    []string
	expiry time.Time
	hasExp bool
}

func (s *inside) Register(ctx context.Context, nse *registry.NetworkServiceEndpoint) (*registry.NetworkServiceEndpoint, error) {
	s.path = grpcmetadata.PathFromContext(ctx).Clone()
	s.ids = slices.Clone(nse.GetPathIds())
	s.expiry, s.hasExp = updatepath.ExpiryFromContext(ctx)
	return nse, nil
}
func (s *inside) Find(*registry.NetworkServiceEndpointQuery, grpc.ServerStreamingServer[registry.NetworkServiceEndpointResponse]) error {
	return nil
}
func (s *inside) Unregister(context.Context, *registry.NetworkServiceEndpoint) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func toks(p *grpcmetadata.Path) []string {
	var out []string
	for _, s := range p.PathSegments {
		out = append(out, s.Token)
	}
	return out
}

func TestUpdatePath(t *testing.T) {
	peerGen := generator(t, "spiffe://test/nsmgr", 5*time.Minute)
	ownGen := generator(t, "spiffe://test/registry", 10*time.Minute)
	peerTok, peerExp, err := peerGen.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	withPeer := func() context.Context {
		return metadata.NewIncomingContext(context.Background(), metadata.Pairs(
			token.MetadataKey, peerTok, token.MetadataExpiresKey, peerExp.Format(time.RFC3339Nano)))
	}
	seg := func(ts ...string) []*grpcmetadata.PathSegment {
		var out []*grpcmetadata.PathSegment
		for _, s := range ts {
			out = append(out, &grpcmetadata.PathSegment{Token: s})
		}
		return out
	}
	tests := []struct {
		name       string
		ctx        func() context.Context
		gen        token.Generator
		path       *grpcmetadata.Path
		ids        []string
		wantIndex  uint32
		wantLen    int
		wantIDs    []string
		wantPeer   bool // the peer token sits at index-1
		wantExpiry bool
	}{
		{
			name: "empty path", ctx: withPeer, gen: ownGen, path: &grpcmetadata.Path{},
			wantIndex: 1, wantLen: 2, wantIDs: []string{"spiffe://test/nsmgr", "spiffe://test/registry"}, wantPeer: true, wantExpiry: true,
		},
		{
			name: "second hop", ctx: withPeer, gen: ownGen,
			path:      &grpcmetadata.Path{Index: 1, PathSegments: seg("nse-token", "nsmgr-own-token")},
			ids:       []string{"spiffe://test/nse", "spiffe://test/nsmgr"},
			wantIndex: 2, wantLen: 3, wantIDs: []string{"spiffe://test/nse", "spiffe://test/nsmgr", "spiffe://test/registry"}, wantPeer: true, wantExpiry: true,
		},
		{
			name: "refresh replaces the own segment", ctx: withPeer, gen: ownGen,
			path:      &grpcmetadata.Path{Index: 1, PathSegments: seg("nse-token", "nsmgr-own-token", "old-registry-token")},
			ids:       []string{"spiffe://test/nse", "spiffe://test/nsmgr", "spiffe://test/old"},
			wantIndex: 2, wantLen: 3, wantIDs: []string{"spiffe://test/nse", "spiffe://test/nsmgr", "spiffe://test/registry"}, wantPeer: true, wantExpiry: true,
		},
		{
			name: "no tokens at all", ctx: context.Background, gen: nil, path: &grpcmetadata.Path{},
			wantIndex: 1, wantLen: 2, wantIDs: []string{"", ""},
		},
		{
			name: "no tokens keeps known ids", ctx: context.Background, gen: nil,
			path:      &grpcmetadata.Path{Index: 0, PathSegments: seg("")},
			ids:       []string{"spiffe://test/nse"},
			wantIndex: 1, wantLen: 2, wantIDs: []string{"spiffe://test/nse", ""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &inside{}
			srv := chain.NewNSEServer(updatepath.NewNSEServer(tt.gen), in)
			callerIndex := tt.path.Index
			ctx := grpcmetadata.WithPath(tt.ctx(), tt.path)
			resp, err := srv.Register(ctx, &registry.NetworkServiceEndpoint{Name: "nse", PathIds: tt.ids})
			if err != nil {
				t.Fatal(err)
			}
			if in.path.Index != tt.wantIndex || len(in.path.PathSegments) != tt.wantLen {
				t.Fatalf("chain saw index %d of %v", in.path.Index, toks(in.path))
			}
			if tt.wantPeer && in.path.PathSegments[in.path.Index-1].Token != peerTok {
				t.Fatalf("peer token not at index-1: %v", toks(in.path))
			}
			own := in.path.PathSegments[in.path.Index].Token
			if sub := claims(t, own); tt.gen != nil && sub != "spiffe://test/registry" {
				t.Fatalf("own segment has subject %q", sub)
			}
			if !slices.Equal(in.ids, tt.wantIDs) || !slices.Equal(resp.GetPathIds(), tt.wantIDs) {
				t.Fatalf("path_ids %v (answer %v), want %v", in.ids, resp.GetPathIds(), tt.wantIDs)
			}
			if in.hasExp != tt.wantExpiry || (tt.wantExpiry && !in.expiry.Equal(peerExp)) {
				t.Fatalf("expiry %s (%v), want the earlier token's %s", in.expiry, in.hasExp, peerExp)
			}
			if tt.path.Index != callerIndex {
				t.Fatalf("caller's index %d after the call, want %d", tt.path.Index, callerIndex)
			}
		})
	}
}

func claims(t *testing.T, tok string) string {
	t.Helper()
	if tok == "" {
		return ""
	}
	c, err := token.Parse(tok)
	if err != nil {
		t.Fatal(err)
	}
	return c.Subject
}

func TestBadTokenMetadata(t *testing.T) {
	srv := chain.NewNSEServer(updatepath.NewNSEServer(nil), &inside{})
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs(token.MetadataKey, "x"))
	_, err := srv.Register(ctx, &registry.NetworkServiceEndpoint{Name: "nse"})
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("token without expiry: %v, want Unauthenticated", err)
	}
}
