// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package trimpath

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
)

type keepKey struct{}

// keep is set by a client when the path goes on past the server's hop.
type keep struct{ set bool }

type server struct{ chain.ServerLink }

// NewServer returns the server element.
func NewServer() networkservice.NetworkServiceServer { return &server{} }

func (s *server) Request(ctx context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	k := &keep{}
	conn, err := s.Next().Request(context.WithValue(ctx, keepKey{}, k), req)
	if err != nil || k.set {
		return conn, err
	}
	path := conn.GetPath()
	if n := uint64(path.GetIndex()) + 1; n < uint64(len(path.GetPathSegments())) {
		path.PathSegments = path.PathSegments[:n]
	}
	return conn, nil
}

func (s *server) Close(ctx context.Context, conn *networkservice.Connection) (*emptypb.Empty, error) {
	return s.Next().Close(ctx, conn)
}

type client struct{ chain.ClientLink }

// NewClient returns the client element.
func NewClient() networkservice.NetworkServiceClient { return &client{} }

func (c *client) Request(ctx context.Context, req *networkservice.NetworkServiceRequest, opts ...grpc.CallOption) (*networkservice.Connection, error) {
	if k, ok := ctx.Value(keepKey{}).(*keep); ok {
		k.set = true
	}
	return c.Next().Request(ctx, req, opts...)
}

func (c *client) Close(ctx context.Context, conn *networkservice.Connection, opts ...grpc.CallOption) (*emptypb.Empty, error) {
	return c.Next().Close(ctx, conn, opts...)
}

var (
	_ networkservice.NetworkServiceServer = (*server)(nil)
	_ networkservice.NetworkServiceClient = (*client)(nil)
)
