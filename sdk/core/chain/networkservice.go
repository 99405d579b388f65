// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package chain

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
)

// NewServer links elems into one NetworkServiceServer.
func NewServer(elems ...networkservice.NetworkServiceServer) networkservice.NetworkServiceServer {
	t := &serverTail{}
	return &server{first: link(elems, networkservice.NetworkServiceServer(t)), tail: t}
}

type server struct {
	first networkservice.NetworkServiceServer
	tail  *serverTail
}

func (s *server) setNext(next networkservice.NetworkServiceServer) { s.tail.setNext(next) }
func (s *server) linked() bool                                     { return s.tail.linked() }

func (s *server) Request(ctx context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	return s.first.Request(ctx, req)
}

func (s *server) Close(ctx context.Context, conn *networkservice.Connection) (*emptypb.Empty, error) {
	return s.first.Close(ctx, conn)
}

type serverTail struct{ ServerLink }

func (t *serverTail) Request(ctx context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	if t.set {
		return t.next.Request(ctx, req)
	}
	return req.GetConnection(), nil
}

func (t *serverTail) Close(ctx context.Context, conn *networkservice.Connection) (*emptypb.Empty, error) {
	if t.set {
		return t.next.Close(ctx, conn)
	}
	return &emptypb.Empty{}, nil
}

// NewClient links elems into one NetworkServiceClient.
func NewClient(elems ...networkservice.NetworkServiceClient) networkservice.NetworkServiceClient {
	t := &clientTail{}
	return &client{first: link(elems, networkservice.NetworkServiceClient(t)), tail: t}
}

type client struct {
	first networkservice.NetworkServiceClient
	tail  *clientTail
}

func (c *client) setNext(next networkservice.NetworkServiceClient) { c.tail.setNext(next) }
func (c *client) linked() bool                                     { return c.tail.linked() }

func (c *client) Request(ctx context.Context, req *networkservice.NetworkServiceRequest, opts ...grpc.CallOption) (*networkservice.Connection, error) {
	return c.first.Request(ctx, req, opts...)
}

func (c *client) Close(ctx context.Context, conn *networkservice.Connection, opts ...grpc.CallOption) (*emptypb.Empty, error) {
	return c.first.Close(ctx, conn, opts...)
}

type clientTail struct{ ClientLink }

func (t *clientTail) Request(ctx context.Context, req *networkservice.NetworkServiceRequest, opts ...grpc.CallOption) (*networkservice.Connection, error) {
	if t.set {
		return t.next.Request(ctx, req, opts...)
	}
	return req.GetConnection(), nil
}

func (t *clientTail) Close(ctx context.Context, conn *networkservice.Connection, opts ...grpc.CallOption) (*emptypb.Empty, error) {
	if t.set {
		return t.next.Close(ctx, conn, opts...)
	}
	return &emptypb.Empty{}, nil
}

var (
	_ networkservice.NetworkServiceServer         = (*server)(nil)
	_ Linker[networkservice.NetworkServiceServer] = (*server)(nil)
	_ networkservice.NetworkServiceClient         = (*client)(nil)
	_ Linker[networkservice.NetworkServiceClient] = (*client)(nil)
)
