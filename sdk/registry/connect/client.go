// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package connect

import (
	"context"
	"fmt"
	"net/url"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/core/metadata"
	"github.com/nsmesh/nsmesh/sdk/registry/internal/kind"
	"github.com/nsmesh/nsmesh/sdk/registry/internal/streams"
	"github.com/nsmesh/nsmesh/sdk/tools/clienturlctx"
	"github.com/nsmesh/nsmesh/sdk/tools/grpcutils"
)

// NewNSClient returns the terminal network service registry client.
// Connections are closed when ctx is done and nothing uses them any more.
func NewNSClient(ctx context.Context, opts ...Option) (registry.NetworkServiceRegistryClient, error) {
	c, err := newClient(ctx, kind.NS, opts)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// NewNSEClient returns the terminal endpoint registry client.
// Connections are closed when ctx is done and nothing uses them any more.
func NewNSEClient(ctx context.Context, opts ...Option) (registry.NetworkServiceEndpointRegistryClient, error) {
	c, err := newClient(ctx, kind.NSE, opts)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// client is terminal: it has no successor, so it needs no Link.
type client[R, Q, P any] struct {
	k    *kind.Kind[R, Q, P]
	url  *url.URL
	pool *pool
	// Each instance keeps its registrations' connections under its own key.
	held *metadata.Key[*conn]
}

func newClient[R, Q, P any](ctx context.Context, k *kind.Kind[R, Q, P], opts []Option) (*client[R, Q, P], error) {
	o := options{dialTimeout: DefaultDialTimeout, idleTimeout: DefaultIdleTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	if o.dialTimeout <= 0 || o.idleTimeout <= 0 {
		return nil, fmt.Errorf("connect: dial timeout %s and idle timeout %s must be positive", o.dialTimeout, o.idleTimeout)
	}
	if o.url != nil {
		if _, err := grpcutils.ParseURL(o.url.String()); err != nil {
			return nil, fmt.Errorf("connect: %w", err)
		}
	}
	return &client[R, Q, P]{
		k:    k,
		url:  o.url,
		pool: newPool(ctx, &o),
		held: metadata.NewKey[*conn]("connect.conn"),
	}, nil
}

func (c *client[R, Q, P]) target(ctx context.Context) (*url.URL, error) {
	if c.url != nil {
		return c.url, nil
	}
	if u := clienturlctx.ClientURL(ctx); u != nil {
		return u, nil
	}
	return nil, status.Errorf(codes.FailedPrecondition,
		"registry: no %s registry URL to dial: configure the client with connect.WithURL or put a client URL in the context", c.k.Noun)
}

func (c *client[R, Q, P]) Register(ctx context.Context, r *R, opts ...grpc.CallOption) (*R, error) {
	u, err := c.target(ctx)
	if err != nil {
		return nil, err
	}
	cn, err := c.pool.acquire(ctx, u)
	if err != nil {
		return nil, err
	}
	resp, err := c.k.GRPCClient(cn.cc).Register(ctx, r, opts...)
	if err != nil {
		cn.release()
		return nil, err
	}
	old, had := c.held.Load(ctx, metadata.Client)
	switch {
	case had && old == cn:
		cn.release() // the registration already holds a use
	case !c.held.Store(ctx, metadata.Client, cn):
		cn.release() // no begin: nothing outlives the call
	case had:
		old.release() // the registration moved to another URL
	}
	return resp, nil
}

func (c *client[R, Q, P]) Find(ctx context.Context, q *Q, opts ...grpc.CallOption) (grpc.ServerStreamingClient[P], error) {
	u, err := c.target(ctx)
	if err != nil {
		return nil, err
	}
	cn, err := c.pool.acquire(ctx, u)
	if err != nil {
		return nil, err
	}
	s, err := c.k.GRPCClient(cn.cc).Find(ctx, q, opts...)
	if err != nil {
		cn.release()
		return nil, err
	}
	return streams.OnEnd(ctx, s, cn.release), nil
}

func (c *client[R, Q, P]) Unregister(ctx context.Context, r *R, opts ...grpc.CallOption) (*emptypb.Empty, error) {
	if old, ok := c.held.Load(ctx, metadata.Client); ok {
		c.held.Delete(ctx, metadata.Client)
		defer old.release()
	}
	u, err := c.target(ctx)
	if err != nil {
		return nil, err
	}
	cn, err := c.pool.acquire(ctx, u)
	if err != nil {
		return nil, err
	}
	defer cn.release()
	return c.k.GRPCClient(cn.cc).Unregister(ctx, r, opts...)
}

var (
	_ registry.NetworkServiceRegistryClient         = (*client[kind.NSR, kind.NSQ, kind.NSP])(nil)
	_ registry.NetworkServiceEndpointRegistryClient = (*client[kind.NSER, kind.NSEQ, kind.NSEP])(nil)
)
