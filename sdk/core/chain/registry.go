// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package chain

import (
	"context"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/registry"
)

// NewNSServer links elems into one NetworkServiceRegistryServer.
func NewNSServer(elems ...registry.NetworkServiceRegistryServer) registry.NetworkServiceRegistryServer {
	t := &nsServerTail{}
	return &nsServer{first: link(elems, registry.NetworkServiceRegistryServer(t)), tail: t}
}

type nsServer struct {
	first registry.NetworkServiceRegistryServer
	tail  *nsServerTail
}

func (s *nsServer) setNext(next registry.NetworkServiceRegistryServer) { s.tail.setNext(next) }
func (s *nsServer) linked() bool                                       { return s.tail.linked() }
func (s *nsServer) Register(ctx context.Context, ns *registry.NetworkService) (*registry.NetworkService, error) {
	return s.first.Register(ctx, ns)
}
func (s *nsServer) Find(q *registry.NetworkServiceQuery, srv registry.NetworkServiceRegistry_FindServer) error {
	return s.first.Find(q, srv)
}
func (s *nsServer) Unregister(ctx context.Context, ns *registry.NetworkService) (*emptypb.Empty, error) {
	return s.first.Unregister(ctx, ns)
}

type nsServerTail struct{ NSServerLink }

func (t *nsServerTail) Register(ctx context.Context, ns *registry.NetworkService) (*registry.NetworkService, error) {
	if t.set {
		return t.next.Register(ctx, ns)
	}
	return ns, nil
}
func (t *nsServerTail) Find(q *registry.NetworkServiceQuery, srv registry.NetworkServiceRegistry_FindServer) error {
	if t.set {
		return t.next.Find(q, srv)
	}
	return nil
}
func (t *nsServerTail) Unregister(ctx context.Context, ns *registry.NetworkService) (*emptypb.Empty, error) {
	if t.set {
		return t.next.Unregister(ctx, ns)
	}
	return &emptypb.Empty{}, nil
}

// NewNSEServer links elems into one NetworkServiceEndpointRegistryServer.
func NewNSEServer(elems ...registry.NetworkServiceEndpointRegistryServer) registry.NetworkServiceEndpointRegistryServer {
	t := &nseServerTail{}
	return &nseServer{first: link(elems, registry.NetworkServiceEndpointRegistryServer(t)), tail: t}
}

type nseServer struct {
	first registry.NetworkServiceEndpointRegistryServer
	tail  *nseServerTail
}

func (s *nseServer) setNext(next registry.NetworkServiceEndpointRegistryServer) { s.tail.setNext(next) }
func (s *nseServer) linked() bool                                               { return s.tail.linked() }
func (s *nseServer) Register(ctx context.Context, nse *registry.NetworkServiceEndpoint) (*registry.NetworkServiceEndpoint, error) {
	return s.first.Register(ctx, nse)
}
func (s *nseServer) Find(q *registry.NetworkServiceEndpointQuery, srv registry.NetworkServiceEndpointRegistry_FindServer) error {
	return s.first.Find(q, srv)
}
func (s *nseServer) Unregister(ctx context.Context, nse *registry.NetworkServiceEndpoint) (*emptypb.Empty, error) {
	return s.first.Unregister(ctx, nse)
}

type nseServerTail struct{ NSEServerLink }

func (t *nseServerTail) Register(ctx context.Context, nse *registry.NetworkServiceEndpoint) (*registry.NetworkServiceEndpoint, error) {
	if t.set {
		return t.next.Register(ctx, nse)
	}
	return nse, nil
}
func (t *nseServerTail) Find(q *registry.NetworkServiceEndpointQuery, srv registry.NetworkServiceEndpointRegistry_FindServer) error {
	if t.set {
		return t.next.Find(q, srv)
	}
	return nil
}
func (t *nseServerTail) Unregister(ctx context.Context, nse *registry.NetworkServiceEndpoint) (*emptypb.Empty, error) {
	if t.set {
		return t.next.Unregister(ctx, nse)
	}
	return &emptypb.Empty{}, nil
}

// NewNSClient links elems into one NetworkServiceRegistryClient.
func NewNSClient(elems ...registry.NetworkServiceRegistryClient) registry.NetworkServiceRegistryClient {
	t := &nsClientTail{}
	return &nsClient{first: link(elems, registry.NetworkServiceRegistryClient(t)), tail: t}
}

type nsClient struct {
	first registry.NetworkServiceRegistryClient
	tail  *nsClientTail
}

func (c *nsClient) setNext(next registry.NetworkServiceRegistryClient) { c.tail.setNext(next) }
func (c *nsClient) linked() bool                                       { return c.tail.linked() }
func (c *nsClient) Register(ctx context.Context, ns *registry.NetworkService, opts ...grpc.CallOption) (*registry.NetworkService, error) {
	return c.first.Register(ctx, ns, opts...)
}
func (c *nsClient) Find(ctx context.Context, q *registry.NetworkServiceQuery, opts ...grpc.CallOption) (registry.NetworkServiceRegistry_FindClient, error) {
	return c.first.Find(ctx, q, opts...)
}
func (c *nsClient) Unregister(ctx context.Context, ns *registry.NetworkService, opts ...grpc.CallOption) (*emptypb.Empty, error) {
	return c.first.Unregister(ctx, ns, opts...)
}

type nsClientTail struct{ NSClientLink }

func (t *nsClientTail) Register(ctx context.Context, ns *registry.NetworkService, opts ...grpc.CallOption) (*registry.NetworkService, error) {
	if t.set {
		return t.next.Register(ctx, ns, opts...)
	}
	return ns, nil
}
func (t *nsClientTail) Find(ctx context.Context, q *registry.NetworkServiceQuery, opts ...grpc.CallOption) (registry.NetworkServiceRegistry_FindClient, error) {
	if t.set {
		return t.next.Find(ctx, q, opts...)
	}
	return &EmptyStream[registry.NetworkServiceResponse]{Ctx: ctx}, nil
}
func (t *nsClientTail) Unregister(ctx context.Context, ns *registry.NetworkService, opts ...grpc.CallOption) (*emptypb.Empty, error) {
	if t.set {
		return t.next.Unregister(ctx, ns, opts...)
	}
	return &emptypb.Empty{}, nil
}

// NewNSEClient links elems into one NetworkServiceEndpointRegistryClient.
func NewNSEClient(elems ...registry.NetworkServiceEndpointRegistryClient) registry.NetworkServiceEndpointRegistryClient {
	t := &nseClientTail{}
	return &nseClient{first: link(elems, registry.NetworkServiceEndpointRegistryClient(t)), tail: t}
}

type nseClient struct {
	first registry.NetworkServiceEndpointRegistryClient
	tail  *nseClientTail
}

func (c *nseClient) setNext(next registry.NetworkServiceEndpointRegistryClient) { c.tail.setNext(next) }
func (c *nseClient) linked() bool                                               { return c.tail.linked() }
func (c *nseClient) Register(ctx context.Context, nse *registry.NetworkServiceEndpoint, opts ...grpc.CallOption) (*registry.NetworkServiceEndpoint, error) {
	return c.first.Register(ctx, nse, opts...)
}
func (c *nseClient) Find(ctx context.Context, q *registry.NetworkServiceEndpointQuery, opts ...grpc.CallOption) (registry.NetworkServiceEndpointRegistry_FindClient, error) {
	return c.first.Find(ctx, q, opts...)
}
func (c *nseClient) Unregister(ctx context.Context, nse *registry.NetworkServiceEndpoint, opts ...grpc.CallOption) (*emptypb.Empty, error) {
	return c.first.Unregister(ctx, nse, opts...)
}

type nseClientTail struct{ NSEClientLink }

func (t *nseClientTail) Register(ctx context.Context, nse *registry.NetworkServiceEndpoint, opts ...grpc.CallOption) (*registry.NetworkServiceEndpoint, error) {
	if t.set {
		return t.next.Register(ctx, nse, opts...)
	}
	return nse, nil
}
func (t *nseClientTail) Find(ctx context.Context, q *registry.NetworkServiceEndpointQuery, opts ...grpc.CallOption) (registry.NetworkServiceEndpointRegistry_FindClient, error) {
	if t.set {
		return t.next.Find(ctx, q, opts...)
	}
	return &EmptyStream[registry.NetworkServiceEndpointResponse]{Ctx: ctx}, nil
}
func (t *nseClientTail) Unregister(ctx context.Context, nse *registry.NetworkServiceEndpoint, opts ...grpc.CallOption) (*emptypb.Empty, error) {
	if t.set {
		return t.next.Unregister(ctx, nse, opts...)
	}
	return &emptypb.Empty{}, nil
}

// EmptyStream is a client stream that has ended without results.
type EmptyStream[T any] struct {
	grpc.ClientStream
	Ctx context.Context
}

// Recv reports the end of the stream.
func (s *EmptyStream[T]) Recv() (*T, error) { return nil, io.EOF }

// Context returns the context the stream was opened with.
func (s *EmptyStream[T]) Context() context.Context { return s.Ctx }

// Header returns no metadata.
func (s *EmptyStream[T]) Header() (metadata.MD, error) { return nil, nil }

// Trailer returns no metadata.
func (s *EmptyStream[T]) Trailer() metadata.MD { return nil }

// CloseSend does nothing: nothing was sent.
func (s *EmptyStream[T]) CloseSend() error { return nil }

var (
	_ registry.NetworkServiceRegistryServer         = (*nsServer)(nil)
	_ registry.NetworkServiceEndpointRegistryServer = (*nseServer)(nil)
	_ registry.NetworkServiceRegistryClient         = (*nsClient)(nil)
	_ registry.NetworkServiceEndpointRegistryClient = (*nseClient)(nil)
)

// SendMsg discards m: the stream has ended.
func (s *EmptyStream[T]) SendMsg(any) error { return nil }

// RecvMsg reports the end of the stream.
func (s *EmptyStream[T]) RecvMsg(any) error { return io.EOF }
