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

// NewNSServer returns a server-side begin element for network services.
func NewNSServer() registry.NetworkServiceRegistryServer {
	return newServer[registry.NetworkServiceRegistryServer](kind.NS)
}

// NewNSEServer returns a server-side begin element for endpoints.
func NewNSEServer() registry.NetworkServiceEndpointRegistryServer {
	return newServer[registry.NetworkServiceEndpointRegistryServer](kind.NSE)
}

type server[S kind.Server[R, Q, P], R, Q, P any] struct {
	chain.Link[S]
	k *kind.Kind[R, Q, P]
	t *tracker[R]
}

func newServer[S kind.Server[R, Q, P], R, Q, P any](k *kind.Kind[R, Q, P]) *server[S, R, Q, P] {
	return &server[S, R, Q, P]{k: k, t: newTracker[R](metadata.Server)}
}

// Len reports how many names the element holds; tests use it to prove that
// nothing is left behind.
func (s *server[S, R, Q, P]) Len() int { return s.t.len() }

func (s *server[S, R, Q, P]) Register(ctx context.Context, r *R) (*R, error) {
	if err := s.k.CheckName(r); err != nil {
		return nil, err
	}
	name := s.k.Name(r)
	if s.t.reentrant(ctx, name) {
		return s.Next().Register(ctx, r)
	}
	e, err := s.t.lockEntry(ctx, name)
	if err != nil {
		return nil, err
	}
	defer e.release()
	resp, err := s.Next().Register(s.t.withEntry(ctx, e, &serverEvents[S, R, Q, P]{s: s, e: e}), r)
	if err != nil {
		s.t.dropIfEmpty(e)
		return nil, err
	}
	e.remember(ctx, s.k.Clone(resp))
	return resp, nil
}

func (s *server[S, R, Q, P]) Find(q *Q, srv grpc.ServerStreamingServer[P]) error {
	return s.Next().Find(q, srv)
}

func (s *server[S, R, Q, P]) Unregister(ctx context.Context, r *R) (*emptypb.Empty, error) {
	name := s.k.Name(r)
	if name == "" || s.t.reentrant(ctx, name) {
		return s.Next().Unregister(ctx, r)
	}
	e, err := s.t.lockEntry(ctx, name)
	if err != nil {
		return nil, err
	}
	defer e.release()
	defer s.t.drop(e)
	if e.reg != nil {
		r = s.k.Clone(e.reg)
	}
	return s.Next().Unregister(s.t.withEntry(ctx, e, &serverEvents[S, R, Q, P]{s: s, e: e}), r)
}

type serverEvents[S kind.Server[R, Q, P], R, Q, P any] struct {
	s *server[S, R, Q, P]
	e *entry[R]
}

func (f *serverEvents[S, R, Q, P]) Register(opts ...Option) <-chan error {
	return f.s.t.runEvent(f.e, f, opts, func(ctx context.Context) error {
		resp, err := f.s.Next().Register(ctx, f.s.k.Clone(f.e.reg))
		if err != nil {
			return err
		}
		f.e.remember(f.e.ctx, f.s.k.Clone(resp))
		return nil
	})
}

func (f *serverEvents[S, R, Q, P]) Unregister(opts ...Option) <-chan error {
	return f.s.t.runEvent(f.e, f, opts, func(ctx context.Context) error {
		defer f.s.t.drop(f.e)
		_, err := f.s.Next().Unregister(ctx, f.s.k.Clone(f.e.reg))
		return err
	})
}

var (
	_ registry.NetworkServiceRegistryServer         = (*server[registry.NetworkServiceRegistryServer, kind.NSR, kind.NSQ, kind.NSP])(nil)
	_ registry.NetworkServiceEndpointRegistryServer = (*server[registry.NetworkServiceEndpointRegistryServer, kind.NSER, kind.NSEQ, kind.NSEP])(nil)
)
