// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package begin

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/core/metadata"
	"github.com/nsmesh/nsmesh/sdk/registry/internal/kind"
)

// NewNSClient returns a client-side begin element for network services.
func NewNSClient() registry.NetworkServiceRegistryClient {
	return newClient[registry.NetworkServiceRegistryClient](kind.NS)
}

// NewNSEClient returns a client-side begin element for endpoints.
func NewNSEClient() registry.NetworkServiceEndpointRegistryClient {
	return newClient[registry.NetworkServiceEndpointRegistryClient](kind.NSE)
}

type client[C kind.Client[R, Q, P], R, Q, P any] struct {
	chain.Link[C]
	k *kind.Kind[R, Q, P]
	t *tracker[R]
}

func newClient[C kind.Client[R, Q, P], R, Q, P any](k *kind.Kind[R, Q, P]) *client[C, R, Q, P] {
	return &client[C, R, Q, P]{k: k, t: newTracker[R](metadata.Client)}
}

// Len reports how many names the element holds.
func (c *client[C, R, Q, P]) Len() int { return c.t.len() }

func (c *client[C, R, Q, P]) Register(ctx context.Context, r *R, opts ...grpc.CallOption) (*R, error) {
	if err := c.k.CheckName(r); err != nil {
		return nil, err
	}
	name := c.k.Name(r)
	if c.t.reentrant(ctx, name) {
		return c.Next().Register(ctx, r, opts...)
	}
	e, err := c.t.lockEntry(ctx, name)
	if err != nil {
		return nil, err
	}
	defer e.release()
	resp, err := c.Next().Register(c.t.withEntry(ctx, e, &clientEvents[C, R, Q, P]{c: c, e: e, opts: opts}), r, opts...)
	if err != nil {
		c.t.dropIfEmpty(e)
		return nil, err
	}
	e.remember(ctx, c.k.Clone(resp))
	return resp, nil
}

func (c *client[C, R, Q, P]) Find(ctx context.Context, q *Q, opts ...grpc.CallOption) (grpc.ServerStreamingClient[P], error) {
	return c.Next().Find(ctx, q, opts...)
}

func (c *client[C, R, Q, P]) Unregister(ctx context.Context, r *R, opts ...grpc.CallOption) (*emptypb.Empty, error) {
	name := c.k.Name(r)
	if name == "" || c.t.reentrant(ctx, name) {
		return c.Next().Unregister(ctx, r, opts...)
	}
	e, err := c.t.lockEntry(ctx, name)
	if err != nil {
		return nil, err
	}
	defer e.release()
	defer c.t.drop(e)
	if e.reg != nil {
		r = c.k.Clone(e.reg)
	}
	return c.Next().Unregister(c.t.withEntry(ctx, e, &clientEvents[C, R, Q, P]{c: c, e: e, opts: opts}), r, opts...)
}

type clientEvents[C kind.Client[R, Q, P], R, Q, P any] struct {
	c    *client[C, R, Q, P]
	e    *entry[R]
	opts []grpc.CallOption
}

func (f *clientEvents[C, R, Q, P]) Register(opts ...Option) <-chan error {
	return f.c.t.runEvent(f.e, f, opts, func(ctx context.Context) error {
		resp, err := f.c.Next().Register(ctx, f.c.k.Clone(f.e.reg), f.opts...)
		if err != nil {
			return err
		}
		f.e.remember(f.e.ctx, f.c.k.Clone(resp))
		return nil
	})
}

func (f *clientEvents[C, R, Q, P]) Unregister(opts ...Option) <-chan error {
	return f.c.t.runEvent(f.e, f, opts, func(ctx context.Context) error {
		defer f.c.t.drop(f.e)
		_, err := f.c.Next().Unregister(ctx, f.c.k.Clone(f.e.reg), f.opts...)
		return err
	})
}

var (
	_ registry.NetworkServiceRegistryClient         = (*client[registry.NetworkServiceRegistryClient, kind.NSR, kind.NSQ, kind.NSP])(nil)
	_ registry.NetworkServiceEndpointRegistryClient = (*client[registry.NetworkServiceEndpointRegistryClient, kind.NSER, kind.NSEQ, kind.NSEP])(nil)
)
