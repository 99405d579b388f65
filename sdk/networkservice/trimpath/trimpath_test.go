// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package trimpath_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/networkservice/trimpath"
	"github.com/nsmesh/nsmesh/sdk/networkservice/updatepath"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// endpoint ends a chain, answering with the request's connection or an error.
type endpoint struct {
	err    error
	closed []*networkservice.Connection
}

func (e *endpoint) Request(_ context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	if e.err != nil {
		return nil, e.err
	}
	return req.GetConnection(), nil
}

func (e *endpoint) Close(_ context.Context, c *networkservice.Connection) (*emptypb.Empty, error) {
	e.closed = append(e.closed, c.Clone())
	return &emptypb.Empty{}, nil
}

// clientEnd ends a client chain in an endpoint.
type clientEnd struct{ e *endpoint }

func (c clientEnd) Request(ctx context.Context, req *networkservice.NetworkServiceRequest, _ ...grpc.CallOption) (*networkservice.Connection, error) {
	return c.e.Request(ctx, req)
}

func (c clientEnd) Close(ctx context.Context, conn *networkservice.Connection, _ ...grpc.CallOption) (*emptypb.Empty, error) {
	return c.e.Close(ctx, conn)
}

// toClient ends a server chain in a client chain, as connect does.
type toClient struct {
	c networkservice.NetworkServiceClient
}

func (s *toClient) Request(ctx context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	return s.c.Request(ctx, req)
}

func (s *toClient) Close(ctx context.Context, c *networkservice.Connection) (*emptypb.Empty, error) {
	return s.c.Close(ctx, c)
}

func path(index uint32, n int) *networkservice.Connection {
	c := &networkservice.Connection{Path: &networkservice.Path{Index: index}}
	for i := range n {
		c.Path.PathSegments = append(c.Path.PathSegments, &networkservice.PathSegment{Name: fmt.Sprint("hop-", i), Id: fmt.Sprint("id-", i)})
	}
	c.Id = fmt.Sprint("id-", index)
	return c
}

func TestServer(t *testing.T) {
	fail := errors.New("endpoint fails")
	tests := []struct {
		name    string
		inner   func(e *endpoint) networkservice.NetworkServiceServer // what follows the server
		in      *networkservice.Connection
		wantLen int
		wantErr error
	}{
		{name: "endpoint: stale segments cut", in: path(3, 6), wantLen: 4},
		{name: "endpoint: nothing behind", in: path(3, 4), wantLen: 4},
		{name: "endpoint: single segment", in: path(0, 1), wantLen: 1},
		{
			name: "passthrough with trimpath client: kept",
			inner: func(e *endpoint) networkservice.NetworkServiceServer {
				return &toClient{chain.NewClient(trimpath.NewClient(), clientEnd{e})}
			},
			in:      path(1, 6),
			wantLen: 6,
		},
		{
			name:    "client chain without trimpath client: cut",
			inner:   func(e *endpoint) networkservice.NetworkServiceServer { return &toClient{chain.NewClient(clientEnd{e})} },
			in:      path(1, 6),
			wantLen: 2,
		},
		{name: "failure passed on", in: path(1, 6), wantErr: fail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &endpoint{err: tt.wantErr}
			var next networkservice.NetworkServiceServer = e
			if tt.inner != nil {
				next = tt.inner(e)
			}
			srv := chain.NewServer(trimpath.NewServer(), next)
			got, err := srv.Request(context.Background(), &networkservice.NetworkServiceRequest{Connection: tt.in.Clone()})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if n := len(got.GetPath().GetPathSegments()); n != tt.wantLen {
				t.Errorf("path has %d segments, want %d", n, tt.wantLen)
			}
			want := tt.in.GetPath().GetPathSegments()[:tt.wantLen]
			if !slices.EqualFunc(got.GetPath().GetPathSegments(), want, func(a, b *networkservice.PathSegment) bool { return proto.Equal(a, b) }) {
				t.Errorf("kept segments changed: %v", got.GetPath())
			}
			// Close is not trimmed.
			if _, err := srv.Close(context.Background(), tt.in.Clone()); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(e.closed[0], tt.in) {
				t.Errorf("Close changed the connection: %v", e.closed[0])
			}
		})
	}
}

func TestClientAlone(t *testing.T) {
	e := &endpoint{}
	in := path(0, 3)
	got, err := chain.NewClient(trimpath.NewClient(), clientEnd{e}).Request(context.Background(), &networkservice.NetworkServiceRequest{Connection: in.Clone()})
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got, in) {
		t.Errorf("client changed the connection: %v", got)
	}
}

// wire joins a client chain to the next hop's server, copying messages.
type wire struct {
	s networkservice.NetworkServiceServer
}

func (w *wire) Request(ctx context.Context, req *networkservice.NetworkServiceRequest, _ ...grpc.CallOption) (*networkservice.Connection, error) {
	c, err := w.s.Request(ctx, req.Clone())
	return c.Clone(), err
}

func (w *wire) Close(ctx context.Context, c *networkservice.Connection, _ ...grpc.CallOption) (*emptypb.Empty, error) {
	return w.s.Close(ctx, c.Clone())
}

// After a reselect from a remote to a local path, the NSE drops the old remote
// tail, and the passthroughs pass its trimmed path back.
func TestReselectToShorterPath(t *testing.T) {
	nse := chain.NewServer(updatepath.NewServer("nse"), trimpath.NewServer(), &endpoint{})
	hop := func(name string, next networkservice.NetworkServiceServer) networkservice.NetworkServiceServer {
		return chain.NewServer(updatepath.NewServer(name), trimpath.NewServer(),
			&toClient{chain.NewClient(updatepath.NewClient(name), trimpath.NewClient(), &wire{next})})
	}
	nsc := chain.NewClient(updatepath.NewClient("nsc"), trimpath.NewClient(), &wire{hop("nsmgr-1", hop("fwd-1", nse))})

	old := path(0, 6)
	for i, n := range []string{"nsc", "nsmgr-1", "fwd-1", "nsmgr-2", "fwd-2", "nse"} {
		old.Path.PathSegments[i].Name = n
	}
	got, err := nsc.Request(context.Background(), &networkservice.NetworkServiceRequest{Connection: old})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range got.GetPath().GetPathSegments() {
		names = append(names, s.GetName())
	}
	if want := []string{"nsc", "nsmgr-1", "fwd-1", "nse"}; !slices.Equal(names, want) {
		t.Errorf("path %v, want %v", names, want)
	}
}
