// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package adapters places client elements in server chains and server
// elements in client chains.
//
// ClientToServer(c) runs c as a server element: c's successor is the rest of
// the server chain. ServerToClient(s) is the mirror image; gRPC call options
// stop at an adapted server element, which has no way to take them.
package adapters

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
)

// ClientToServer adapts a client element (or client chain) into a server element.
func ClientToServer(c networkservice.NetworkServiceClient) networkservice.NetworkServiceServer {
	a := &clientToServer{}
	// The inner chain ends in a bridge to a's successor, which the outer chain
	// sets later; the bridge reads it at call time.
	a.inner = chain.NewClient(c, &clientToServerBridge{a: a})
	return a
}

type clientToServer struct {
	chain.ServerLink
	inner networkservice.NetworkServiceClient
}

func (a *clientToServer) Request(ctx context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	return a.inner.Request(ctx, req)
}

func (a *clientToServer) Close(ctx context.Context, conn *networkservice.Connection) (*emptypb.Empty, error) {
	return a.inner.Close(ctx, conn)
}

type clientToServerBridge struct{ a *clientToServer }

func (b *clientToServerBridge) Request(ctx context.Context, req *networkservice.NetworkServiceRequest, _ ...grpc.CallOption) (*networkservice.Connection, error) {
	return b.a.Next().Request(ctx, req)
}

func (b *clientToServerBridge) Close(ctx context.Context, conn *networkservice.Connection, _ ...grpc.CallOption) (*emptypb.Empty, error) {
	return b.a.Next().Close(ctx, conn)
}

// ServerToClient adapts a server element (or server chain) into a client element.
func ServerToClient(s networkservice.NetworkServiceServer) networkservice.NetworkServiceClient {
	a := &serverToClient{}
	a.inner = chain.NewServer(s, &serverToClientBridge{a: a})
	return a
}

type serverToClient struct {
	chain.ClientLink
	inner networkservice.NetworkServiceServer
}

func (a *serverToClient) Request(ctx context.Context, req *networkservice.NetworkServiceRequest, _ ...grpc.CallOption) (*networkservice.Connection, error) {
	return a.inner.Request(ctx, req)
}

func (a *serverToClient) Close(ctx context.Context, conn *networkservice.Connection, _ ...grpc.CallOption) (*emptypb.Empty, error) {
	return a.inner.Close(ctx, conn)
}

type serverToClientBridge struct{ a *serverToClient }

func (b *serverToClientBridge) Request(ctx context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	return b.a.Next().Request(ctx, req)
}

func (b *serverToClientBridge) Close(ctx context.Context, conn *networkservice.Connection) (*emptypb.Empty, error) {
	return b.a.Next().Close(ctx, conn)
}

var (
	_ networkservice.NetworkServiceServer = (*clientToServer)(nil)
	_ networkservice.NetworkServiceClient = (*serverToClient)(nil)
)
