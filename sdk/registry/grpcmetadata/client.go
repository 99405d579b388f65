// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package grpcmetadata

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/registry/internal/kind"
)

// NewNSClient returns the client side for network services.
func NewNSClient() registry.NetworkServiceRegistryClient {
	return &client[registry.NetworkServiceRegistryClient, kind.NSR, kind.NSQ, kind.NSP]{}
}

// NewNSEClient returns the client side for endpoints.
func NewNSEClient() registry.NetworkServiceEndpointRegistryClient {
	return &client[registry.NetworkServiceEndpointRegistryClient, kind.NSER, kind.NSEQ, kind.NSEP]{}
}

type client[C kind.Client[R, Q, P], R, Q, P any] struct {
	chain.Link[C]
}

// outgoing appends the context's path (or a new empty one) to the outgoing
// metadata.
func outgoing(ctx context.Context) (context.Context, *Path, error) {
	p := PathFromContext(ctx)
	if p == nil {
		p = &Path{}
		ctx = WithPath(ctx, p)
	}
	s, err := p.Encode()
	if err != nil {
		return nil, nil, status.Error(codes.Internal, err.Error())
	}
	return metadata.AppendToOutgoingContext(ctx, MetadataKey, s), p, nil
}

// update copies the path the server sent back into p.
func update(p *Path, header metadata.MD) {
	if q, ok, err := fromMD(header); ok && err == nil {
		p.Set(q)
	}
}

func (c *client[C, R, Q, P]) Register(ctx context.Context, r *R, opts ...grpc.CallOption) (*R, error) {
	ctx, p, err := outgoing(ctx)
	if err != nil {
		return nil, err
	}
	var header metadata.MD
	resp, err := c.Next().Register(ctx, r, append(opts[:len(opts):len(opts)], grpc.Header(&header))...)
	if err != nil {
		return nil, err
	}
	update(p, header)
	return resp, nil
}

func (c *client[C, R, Q, P]) Find(ctx context.Context, q *Q, opts ...grpc.CallOption) (grpc.ServerStreamingClient[P], error) {
	ctx, _, err := outgoing(ctx)
	if err != nil {
		return nil, err
	}
	return c.Next().Find(ctx, q, opts...)
}

func (c *client[C, R, Q, P]) Unregister(ctx context.Context, r *R, opts ...grpc.CallOption) (*emptypb.Empty, error) {
	ctx, p, err := outgoing(ctx)
	if err != nil {
		return nil, err
	}
	var header metadata.MD
	resp, err := c.Next().Unregister(ctx, r, append(opts[:len(opts):len(opts)], grpc.Header(&header))...)
	if err != nil {
		return nil, err
	}
	update(p, header)
	return resp, nil
}

var (
	_ registry.NetworkServiceRegistryClient         = (*client[registry.NetworkServiceRegistryClient, kind.NSR, kind.NSQ, kind.NSP])(nil)
	_ registry.NetworkServiceEndpointRegistryClient = (*client[registry.NetworkServiceEndpointRegistryClient, kind.NSER, kind.NSEQ, kind.NSEP])(nil)
)
