// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package clienturl

import (
	"context"
	"net/url"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/tools/clienturlctx"
)

// NewServer returns a server element that sets u as the next hop's URL.
func NewServer(u *url.URL) networkservice.NetworkServiceServer {
	return &server{u: u}
}

// NewClient returns a client element that sets u as the next hop's URL.
func NewClient(u *url.URL) networkservice.NetworkServiceClient {
	return &client{u: u}
}

type server struct {
	chain.ServerLink
	u *url.URL
}

func (s *server) Request(ctx context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	return s.Next().Request(withURL(ctx, s.u), req)
}

func (s *server) Close(ctx context.Context, conn *networkservice.Connection) (*emptypb.Empty, error) {
	return s.Next().Close(withURL(ctx, s.u), conn)
}

type client struct {
	chain.ClientLink
	u *url.URL
}

func (c *client) Request(ctx context.Context, req *networkservice.NetworkServiceRequest, opts ...grpc.CallOption) (*networkservice.Connection, error) {
	return c.Next().Request(withURL(ctx, c.u), req, opts...)
}

func (c *client) Close(ctx context.Context, conn *networkservice.Connection, opts ...grpc.CallOption) (*emptypb.Empty, error) {
	return c.Next().Close(withURL(ctx, c.u), conn, opts...)
}

func withURL(ctx context.Context, u *url.URL) context.Context {
	if u == nil {
		return ctx
	}
	return clienturlctx.WithClientURL(ctx, u)
}

var (
	_ networkservice.NetworkServiceServer = (*server)(nil)
	_ networkservice.NetworkServiceClient = (*client)(nil)
)
