// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package updatepath

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
)

type client struct {
	chain.ClientLink
	name string
}

// NewClient returns the client element of the hop called name: the same
// logic as NewServer. A passthrough gives it the name of its server.
func NewClient(name string) networkservice.NetworkServiceClient {
	return &client{name: name}
}

func (c *client) Request(ctx context.Context, req *networkservice.NetworkServiceRequest, opts ...grpc.CallOption) (*networkservice.Connection, error) {
	if req.GetConnection() == nil {
		req.Connection = &networkservice.Connection{}
	}
	prev, err := updatePath(req.GetConnection(), c.name)
	if err != nil {
		return nil, err
	}
	conn, err := c.Next().Request(ctx, req, opts...)
	if err != nil {
		return nil, err
	}
	if err := restore(conn, prev); err != nil {
		return nil, err
	}
	return conn, nil
}

func (c *client) Close(ctx context.Context, conn *networkservice.Connection, opts ...grpc.CallOption) (*emptypb.Empty, error) {
	if conn == nil {
		conn = &networkservice.Connection{}
	}
	if _, err := updatePath(conn, c.name); err != nil {
		return nil, err
	}
	return c.Next().Close(ctx, conn, opts...)
}

var _ networkservice.NetworkServiceClient = (*client)(nil)
