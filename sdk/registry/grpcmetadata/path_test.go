// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package grpcmetadata_test

import (
	"context"
	"testing"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/registry/grpcmetadata"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestWireFormat(t *testing.T) {
	p := &grpcmetadata.Path{Index: 1, PathSegments: []*grpcmetadata.PathSegment{{Token: "a"}, {Token: "b"}}}
	got, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"Index":1,"PathSegments":[{"token":"a"},{"token":"b"}]}`; got != want {
		t.Fatalf("encoded %s, want %s", got, want)
	}
}

func TestDecode(t *testing.T) {
	tests := []struct {
		in        string
		wantIndex uint32
		wantToks  []string
		wantErr   bool
	}{
		{in: `{"Index":1,"PathSegments":[{"token":"a"},{"token":"b"}]}`, wantIndex: 1, wantToks: []string{"a", "b"}},
		{in: `{}`, wantIndex: 0},
		{in: `{"index":0,"path_segments":[]}`, wantIndex: 0},
		// Fields upstream's networkservice.PathSegment may add are ignored.
		{in: `{"Index":0,"PathSegments":[{"id":"x","name":"nse","token":"t"}]}`, wantToks: []string{"t"}},
		{in: `{"Index":0,"PathSegments":[null]}`, wantToks: []string{""}},
		{in: `{"Index":2,"PathSegments":[{"token":"a"},{"token":"b"}]}`, wantErr: true},
		{in: `{"Index":-1}`, wantErr: true},
		{in: `not json`, wantErr: true},
		{in: ``, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			p, err := grpcmetadata.Decode(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if p.Index != tt.wantIndex || len(p.PathSegments) != len(tt.wantToks) {
				t.Fatalf("decoded %+v", p)
			}
			for i, s := range p.PathSegments {
				if s.Token != tt.wantToks[i] {
					t.Fatalf("segment %d token %q, want %q", i, s.Token, tt.wantToks[i])
				}
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(`{"Index":1,"PathSegments":[{"token":"a"},{"token":"b"}]}`)
	f.Add(`{"Index":0,"PathSegments":[null]}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, s string) {
		p, err := grpcmetadata.Decode(s)
		if err != nil {
			return
		}
		// Whatever decodes encodes and decodes to the same path.
		enc, err := p.Encode()
		if err != nil {
			t.Fatal(err)
		}
		q, err := grpcmetadata.Decode(enc)
		if err != nil || q.Index != p.Index || len(q.PathSegments) != len(p.PathSegments) {
			t.Fatalf("round trip of %q: %+v, %v", s, q, err)
		}
		for i := range p.PathSegments {
			if p.PathSegments[i] == nil || q.PathSegments[i].Token != p.PathSegments[i].Token {
				t.Fatalf("round trip of %q changed segment %d", s, i)
			}
		}
	})
}

// pathSeen records the path each call reaches the rest of the chain with.
type pathSeen struct {
	chain.NSEServerLink
	paths []*grpcmetadata.Path
}

func (p *pathSeen) Register(ctx context.Context, nse *registry.NetworkServiceEndpoint) (*registry.NetworkServiceEndpoint, error) {
	cur := grpcmetadata.PathFromContext(ctx)
	p.paths = append(p.paths, cur.Clone())
	cur.PathSegments = append(cur.PathSegments, &grpcmetadata.PathSegment{Token: "added"})
	return nse, nil
}
func (p *pathSeen) Find(*registry.NetworkServiceEndpointQuery, grpc.ServerStreamingServer[registry.NetworkServiceEndpointResponse]) error {
	return nil
}
func (p *pathSeen) Unregister(context.Context, *registry.NetworkServiceEndpoint) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func TestServerReadsTheLastPathValue(t *testing.T) {
	seen := &pathSeen{}
	srv := chain.NewNSEServer(grpcmetadata.NewNSEServer(), seen)
	md := metadata.Pairs(
		grpcmetadata.MetadataKey, `{"Index":0,"PathSegments":[{"token":"first"}]}`,
		grpcmetadata.MetadataKey, `{"Index":0,"PathSegments":[{"token":"last"}]}`,
	)
	ctx := metadata.NewIncomingContext(context.Background(), md)
	if _, err := srv.Register(ctx, &registry.NetworkServiceEndpoint{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	if got := seen.paths[0].PathSegments[0].Token; got != "last" {
		t.Fatalf("server used %q, want the last value", got)
	}

	bad := metadata.NewIncomingContext(context.Background(), metadata.Pairs(grpcmetadata.MetadataKey, "{"))
	_, err := srv.Register(bad, &registry.NetworkServiceEndpoint{Name: "a"})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("bad path: %v, want InvalidArgument", err)
	}

	// In process, the caller's Path object is shared and updated in place.
	own := &grpcmetadata.Path{}
	if _, err := srv.Register(grpcmetadata.WithPath(context.Background(), own), &registry.NetworkServiceEndpoint{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	if len(own.PathSegments) != 1 || own.PathSegments[0].Token != "added" {
		t.Fatalf("in-process caller's path is %+v", own)
	}
}
