// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package adapters

import (
	"context"
	"errors"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/registry/internal/kind"
	"github.com/nsmesh/nsmesh/sdk/registry/internal/streams"
)

// NSClientToServer adapts a network service client element into a server element.
func NSClientToServer(c registry.NetworkServiceRegistryClient) registry.NetworkServiceRegistryServer {
	a := &clientToServer[registry.NetworkServiceRegistryServer, registry.NetworkServiceRegistryClient, kind.NSR, kind.NSQ, kind.NSP]{}
	a.inner = chain.NewNSClient(c, &clientToServerBridge[registry.NetworkServiceRegistryServer, registry.NetworkServiceRegistryClient, kind.NSR, kind.NSQ, kind.NSP]{a: a})
	return a
}

// NSEClientToServer adapts an endpoint client element into a server element.
func NSEClientToServer(c registry.NetworkServiceEndpointRegistryClient) registry.NetworkServiceEndpointRegistryServer {
	a := &clientToServer[registry.NetworkServiceEndpointRegistryServer, registry.NetworkServiceEndpointRegistryClient, kind.NSER, kind.NSEQ, kind.NSEP]{}
	a.inner = chain.NewNSEClient(c, &clientToServerBridge[registry.NetworkServiceEndpointRegistryServer, registry.NetworkServiceEndpointRegistryClient, kind.NSER, kind.NSEQ, kind.NSEP]{a: a})
	return a
}

// NSServerToClient adapts a network service server element into a client element.
func NSServerToClient(s registry.NetworkServiceRegistryServer) registry.NetworkServiceRegistryClient {
	a := &serverToClient[registry.NetworkServiceRegistryServer, registry.NetworkServiceRegistryClient, kind.NSR, kind.NSQ, kind.NSP]{}
	a.inner = chain.NewNSServer(s, &serverToClientBridge[registry.NetworkServiceRegistryServer, registry.NetworkServiceRegistryClient, kind.NSR, kind.NSQ, kind.NSP]{a: a})
	return a
}

// NSEServerToClient adapts an endpoint server element into a client element.
func NSEServerToClient(s registry.NetworkServiceEndpointRegistryServer) registry.NetworkServiceEndpointRegistryClient {
	a := &serverToClient[registry.NetworkServiceEndpointRegistryServer, registry.NetworkServiceEndpointRegistryClient, kind.NSER, kind.NSEQ, kind.NSEP]{}
	a.inner = chain.NewNSEServer(s, &serverToClientBridge[registry.NetworkServiceEndpointRegistryServer, registry.NetworkServiceEndpointRegistryClient, kind.NSER, kind.NSEQ, kind.NSEP]{a: a})
	return a
}

// clientToServer is a server element running a client chain; the chain ends
// in a bridge to the adapter's successor, which the outer chain sets later.
type clientToServer[S kind.Server[R, Q, P], C kind.Client[R, Q, P], R, Q, P any] struct {
	chain.Link[S]
	inner C
}

func (a *clientToServer[S, C, R, Q, P]) Register(ctx context.Context, r *R) (*R, error) {
	return a.inner.Register(ctx, r)
}

func (a *clientToServer[S, C, R, Q, P]) Find(q *Q, srv grpc.ServerStreamingServer[P]) error {
	ctx, cancel := context.WithCancel(srv.Context())
	// A failed Send ends the client stream too.
	defer cancel()
	s, err := a.inner.Find(ctx, q)
	if err != nil {
		return err
	}
	return pump(s, srv)
}

func (a *clientToServer[S, C, R, Q, P]) Unregister(ctx context.Context, r *R) (*emptypb.Empty, error) {
	return a.inner.Unregister(ctx, r)
}

// pump sends what s receives on srv until s ends.
func pump[P any](s grpc.ServerStreamingClient[P], srv grpc.ServerStreamingServer[P]) error {
	for {
		p, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := srv.Send(p); err != nil {
			return err
		}
	}
}

type clientToServerBridge[S kind.Server[R, Q, P], C kind.Client[R, Q, P], R, Q, P any] struct {
	a *clientToServer[S, C, R, Q, P]
}

// next returns the outer successor; ok is false outside a chain.
func (b *clientToServerBridge[S, C, R, Q, P]) next() (kind.Server[R, Q, P], bool) {
	n := kind.Server[R, Q, P](b.a.Next())
	return n, n != nil
}

func (b *clientToServerBridge[S, C, R, Q, P]) Register(ctx context.Context, r *R, _ ...grpc.CallOption) (*R, error) {
	if n, ok := b.next(); ok {
		return n.Register(ctx, r)
	}
	return r, nil
}

func (b *clientToServerBridge[S, C, R, Q, P]) Find(ctx context.Context, q *Q, _ ...grpc.CallOption) (grpc.ServerStreamingClient[P], error) {
	n, ok := b.next()
	if !ok {
		return &chain.EmptyStream[P]{Ctx: ctx}, nil
	}
	return inProcessFind(ctx, n, q), nil
}

func (b *clientToServerBridge[S, C, R, Q, P]) Unregister(ctx context.Context, r *R, _ ...grpc.CallOption) (*emptypb.Empty, error) {
	if n, ok := b.next(); ok {
		return n.Unregister(ctx, r)
	}
	return &emptypb.Empty{}, nil
}

// inProcessFind runs s.Find in a goroutine and returns the stream of its results.
func inProcessFind[P, R, Q any](ctx context.Context, s kind.Server[R, Q, P], q *Q) grpc.ServerStreamingClient[P] {
	pipe := streams.NewPipe[P](ctx)
	go func() { pipe.Close(s.Find(q, pipe.Server())) }()
	return pipe.Client()
}

// serverToClient is a client element running a server chain; the chain ends
// in a bridge to the adapter's successor.
type serverToClient[S kind.Server[R, Q, P], C kind.Client[R, Q, P], R, Q, P any] struct {
	chain.Link[C]
	inner S
}

func (a *serverToClient[S, C, R, Q, P]) Register(ctx context.Context, r *R, _ ...grpc.CallOption) (*R, error) {
	return a.inner.Register(ctx, r)
}

func (a *serverToClient[S, C, R, Q, P]) Find(ctx context.Context, q *Q, _ ...grpc.CallOption) (grpc.ServerStreamingClient[P], error) {
	return inProcessFind(ctx, kind.Server[R, Q, P](a.inner), q), nil
}

func (a *serverToClient[S, C, R, Q, P]) Unregister(ctx context.Context, r *R, _ ...grpc.CallOption) (*emptypb.Empty, error) {
	return a.inner.Unregister(ctx, r)
}

type serverToClientBridge[S kind.Server[R, Q, P], C kind.Client[R, Q, P], R, Q, P any] struct {
	a *serverToClient[S, C, R, Q, P]
}

func (b *serverToClientBridge[S, C, R, Q, P]) next() (kind.Client[R, Q, P], bool) {
	n := kind.Client[R, Q, P](b.a.Next())
	return n, n != nil
}

func (b *serverToClientBridge[S, C, R, Q, P]) Register(ctx context.Context, r *R) (*R, error) {
	if n, ok := b.next(); ok {
		return n.Register(ctx, r)
	}
	return r, nil
}

func (b *serverToClientBridge[S, C, R, Q, P]) Find(q *Q, srv grpc.ServerStreamingServer[P]) error {
	n, ok := b.next()
	if !ok {
		return nil
	}
	ctx, cancel := context.WithCancel(srv.Context())
	defer cancel()
	s, err := n.Find(ctx, q)
	if err != nil {
		return err
	}
	return pump(s, srv)
}

func (b *serverToClientBridge[S, C, R, Q, P]) Unregister(ctx context.Context, r *R) (*emptypb.Empty, error) {
	if n, ok := b.next(); ok {
		return n.Unregister(ctx, r)
	}
	return &emptypb.Empty{}, nil
}

var (
	_ registry.NetworkServiceRegistryServer         = (*clientToServer[registry.NetworkServiceRegistryServer, registry.NetworkServiceRegistryClient, kind.NSR, kind.NSQ, kind.NSP])(nil)
	_ registry.NetworkServiceEndpointRegistryServer = (*clientToServer[registry.NetworkServiceEndpointRegistryServer, registry.NetworkServiceEndpointRegistryClient, kind.NSER, kind.NSEQ, kind.NSEP])(nil)
	_ registry.NetworkServiceRegistryClient         = (*serverToClient[registry.NetworkServiceRegistryServer, registry.NetworkServiceRegistryClient, kind.NSR, kind.NSQ, kind.NSP])(nil)
	_ registry.NetworkServiceEndpointRegistryClient = (*serverToClient[registry.NetworkServiceEndpointRegistryServer, registry.NetworkServiceEndpointRegistryClient, kind.NSER, kind.NSEQ, kind.NSEP])(nil)
)
