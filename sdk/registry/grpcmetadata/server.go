// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package grpcmetadata

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/registry/internal/kind"
	"github.com/nsmesh/nsmesh/sdk/registry/internal/streams"
)

// NewNSServer returns the server side for network services.
func NewNSServer() registry.NetworkServiceRegistryServer {
	return &server[registry.NetworkServiceRegistryServer, kind.NSR, kind.NSQ, kind.NSP]{}
}

// NewNSEServer returns the server side for endpoints.
func NewNSEServer() registry.NetworkServiceEndpointRegistryServer {
	return &server[registry.NetworkServiceEndpointRegistryServer, kind.NSER, kind.NSEQ, kind.NSEP]{}
}

type server[S kind.Server[R, Q, P], R, Q, P any] struct {
	chain.Link[S]
}

// incoming returns ctx carrying the caller's path, and that path when it
// came in the gRPC metadata (nil for an in-process caller, who shares the
// context's Path and needs no header).
func incoming(ctx context.Context) (context.Context, *Path, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	p, ok, err := fromMD(md)
	if err != nil {
		return nil, nil, err
	}
	if ok {
		return WithPath(ctx, p), p, nil
	}
	if PathFromContext(ctx) == nil {
		ctx = WithPath(ctx, &Path{})
	}
	return ctx, nil, nil
}

// sendPath puts p into the response header of the gRPC call.
func sendPath(ctx context.Context, p *Path) {
	if p == nil || grpc.ServerTransportStreamFromContext(ctx) == nil {
		return
	}
	s, err := p.Encode()
	if err != nil {
		return
	}
	_ = grpc.SetHeader(ctx, metadata.Pairs(MetadataKey, s))
}

func (s *server[S, R, Q, P]) Register(ctx context.Context, r *R) (*R, error) {
	ctx, p, err := incoming(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := s.Next().Register(ctx, r)
	if err != nil {
		return nil, err
	}
	sendPath(ctx, p)
	return resp, nil
}

func (s *server[S, R, Q, P]) Find(q *Q, srv grpc.ServerStreamingServer[P]) error {
	ctx, _, err := incoming(srv.Context())
	if err != nil {
		return err
	}
	return s.Next().Find(q, streams.WithServerContext(ctx, srv))
}

func (s *server[S, R, Q, P]) Unregister(ctx context.Context, r *R) (*emptypb.Empty, error) {
	ctx, p, err := incoming(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := s.Next().Unregister(ctx, r)
	if err != nil {
		return nil, err
	}
	sendPath(ctx, p)
	return resp, nil
}

var (
	_ registry.NetworkServiceRegistryServer         = (*server[registry.NetworkServiceRegistryServer, kind.NSR, kind.NSQ, kind.NSP])(nil)
	_ registry.NetworkServiceEndpointRegistryServer = (*server[registry.NetworkServiceEndpointRegistryServer, kind.NSER, kind.NSEQ, kind.NSEP])(nil)
)
