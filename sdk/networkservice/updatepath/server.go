// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package updatepath

import (
	"context"

	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
)

type server struct {
	chain.ServerLink
	name string
}

// NewServer returns the server element of the hop called name. An empty name
// makes every call fail with codes.Internal.
func NewServer(name string) networkservice.NetworkServiceServer {
	return &server{name: name}
}

func (s *server) Request(ctx context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	if req.GetConnection() == nil {
		req.Connection = &networkservice.Connection{}
	}
	prev, err := updatePath(req.GetConnection(), s.name)
	if err != nil {
		return nil, err
	}
	conn, err := s.Next().Request(ctx, req)
	if err != nil {
		return nil, err
	}
	if err := restore(conn, prev); err != nil {
		return nil, err
	}
	return conn, nil
}

func (s *server) Close(ctx context.Context, conn *networkservice.Connection) (*emptypb.Empty, error) {
	if conn == nil {
		conn = &networkservice.Connection{}
	}
	if _, err := updatePath(conn, s.name); err != nil {
		return nil, err
	}
	return s.Next().Close(ctx, conn)
}

var _ networkservice.NetworkServiceServer = (*server)(nil)
