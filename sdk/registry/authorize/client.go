// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package authorize

import (
	"context"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/registry/grpcmetadata"
	"github.com/nsmesh/nsmesh/sdk/registry/internal/kind"
	"github.com/nsmesh/nsmesh/sdk/token"
	"github.com/nsmesh/nsmesh/sdk/tools/log"
)

// NewNSClient returns the client element for network services; it checks
// nothing unless given policies.
func NewNSClient(opts ...Option) registry.NetworkServiceRegistryClient {
	return newClient[registry.NetworkServiceRegistryClient](kind.NS, opts)
}

// NewNSEClient returns the client element for endpoints; it checks nothing
// unless given policies.
func NewNSEClient(opts ...Option) registry.NetworkServiceEndpointRegistryClient {
	return newClient[registry.NetworkServiceEndpointRegistryClient](kind.NSE, opts)
}

type client[C kind.Client[R, Q, P], R, Q, P any] struct {
	chain.Link[C]
	k *kind.Kind[R, Q, P]
	o options

	mu sync.Mutex
	// known are the names this client registered and that passed, so a
	// later denial is a refresh, which must not unregister.
	known map[string]struct{}
}

func newClient[C kind.Client[R, Q, P], R, Q, P any](k *kind.Kind[R, Q, P], opts []Option) *client[C, R, Q, P] {
	return &client[C, R, Q, P]{k: k, o: apply(nil, opts), known: map[string]struct{}{}}
}

// withPath makes sure ctx carries a path that grpcmetadata fills in with
// what the server returns.
func withPath(ctx context.Context) (context.Context, *grpcmetadata.Path) {
	p := grpcmetadata.PathFromContext(ctx)
	if p == nil {
		p = &grpcmetadata.Path{}
		ctx = grpcmetadata.WithPath(ctx, p)
	}
	return ctx, p
}

func (c *client[C, R, Q, P]) input(r *R, p *grpcmetadata.Path) *Input {
	return &Input{Kind: c.k.Short, Noun: c.k.Noun, ResourceName: c.k.Name(r), ResourceID: ResourceID(p), Path: p.Clone()}
}

func (c *client[C, R, Q, P]) Register(ctx context.Context, r *R, opts ...grpc.CallOption) (*R, error) {
	if len(c.o.policies) == 0 {
		return c.Next().Register(ctx, r, opts...)
	}
	ctx, p := withPath(ctx)
	var srv peer.Peer
	resp, err := c.Next().Register(ctx, r, append(opts[:len(opts):len(opts)], grpc.Peer(&srv))...)
	if err != nil {
		return nil, err
	}
	name := c.k.Name(resp)
	in := c.input(resp, p)
	in.PeerCert = token.PeerCertificate(srv.AuthInfo)
	if err := c.o.check(ctx, in); err != nil {
		c.mu.Lock()
		_, refresh := c.known[name]
		c.mu.Unlock()
		if !refresh {
			if _, uerr := c.Next().Unregister(ctx, resp, opts...); uerr != nil {
				log.FromContext(ctx, c.o.logger).WithField(c.k.Short, name).
					Warnf("registry authorize: unregistering the refused registration: %v", uerr)
				return nil, status.Errorf(status.Code(err), "%s (and unregistering it failed: %v)", status.Convert(err).Message(), uerr)
			}
		}
		return nil, err
	}
	c.mu.Lock()
	c.known[name] = struct{}{}
	c.mu.Unlock()
	return resp, nil
}

func (c *client[C, R, Q, P]) Find(ctx context.Context, q *Q, opts ...grpc.CallOption) (grpc.ServerStreamingClient[P], error) {
	return c.Next().Find(ctx, q, opts...)
}

// Unregister is not checked: the registration is gone whatever the returned
// path says. The name stops counting as known.
func (c *client[C, R, Q, P]) Unregister(ctx context.Context, r *R, opts ...grpc.CallOption) (*emptypb.Empty, error) {
	c.mu.Lock()
	delete(c.known, c.k.Name(r))
	c.mu.Unlock()
	return c.Next().Unregister(ctx, r, opts...)
}

var (
	_ registry.NetworkServiceRegistryClient         = (*client[registry.NetworkServiceRegistryClient, kind.NSR, kind.NSQ, kind.NSP])(nil)
	_ registry.NetworkServiceEndpointRegistryClient = (*client[registry.NetworkServiceEndpointRegistryClient, kind.NSER, kind.NSEQ, kind.NSEP])(nil)
)
