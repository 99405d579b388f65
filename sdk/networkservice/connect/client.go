// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package connect

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/networkservice/dial"
)

// NewClient returns the terminal client element that calls the next hop.
func NewClient() networkservice.NetworkServiceClient { return &client{} }

type client struct{}

const noConn = "connect: no gRPC connection to the next hop for connection %q; place dial (or dial.NewFixedClient) before connect in the client chain"

func (c *client) Request(ctx context.Context, req *networkservice.NetworkServiceRequest, opts ...grpc.CallOption) (*networkservice.Connection, error) {
	cc, ok := dial.ClientConn(ctx)
	if !ok {
		return nil, status.Errorf(codes.Unavailable, noConn, req.GetConnection().GetId())
	}
	return networkservice.NewNetworkServiceClient(cc).Request(ctx, req, opts...)
}

func (c *client) Close(ctx context.Context, conn *networkservice.Connection, opts ...grpc.CallOption) (*emptypb.Empty, error) {
	cc, ok := dial.ClientConn(ctx)
	if !ok {
		return nil, status.Errorf(codes.Unavailable, noConn, conn.GetId())
	}
	return networkservice.NewNetworkServiceClient(cc).Close(ctx, conn, opts...)
}

var _ networkservice.NetworkServiceClient = (*client)(nil)
