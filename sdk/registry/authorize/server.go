// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package authorize

import (
	"context"
	"slices"

	"google.golang.org/grpc"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/registry/grpcmetadata"
	"github.com/nsmesh/nsmesh/sdk/registry/internal/kind"
	"github.com/nsmesh/nsmesh/sdk/token"
)

// NewNSServer returns the server element for network services, with
// ServerPolicies unless options say otherwise.
func NewNSServer(opts ...Option) registry.NetworkServiceRegistryServer {
	return newServer[registry.NetworkServiceRegistryServer](kind.NS, opts)
}

// NewNSEServer returns the server element for endpoints, with ServerPolicies
// unless options say otherwise.
func NewNSEServer(opts ...Option) registry.NetworkServiceEndpointRegistryServer {
	return newServer[registry.NetworkServiceEndpointRegistryServer](kind.NSE, opts)
}

type server[S kind.Server[R, Q, P], R, Q, P any] struct {
	chain.Link[S]
	k      *kind.Kind[R, Q, P]
	o      options
	owners *owners
}

func newServer[S kind.Server[R, Q, P], R, Q, P any](k *kind.Kind[R, Q, P], opts []Option) *server[S, R, Q, P] {
	return &server[S, R, Q, P]{k: k, o: apply(ServerPolicies(), opts), owners: newOwners()}
}

// Owners reports how many names have an owner; tests use it.
func (s *server[S, R, Q, P]) Owners() int { return s.owners.len() }

func (s *server[S, R, Q, P]) input(ctx context.Context, r *R, unregister bool) (*Input, *owner) {
	p := grpcmetadata.PathFromContext(ctx)
	in := &Input{
		Kind: s.k.Short, Noun: s.k.Noun, ResourceName: s.k.Name(r),
		ResourceID: ResourceID(p), Path: leftSide(p), Unregister: unregister,
	}
	if pr, ok := peer.FromContext(ctx); ok {
		in.PeerCert = token.PeerCertificate(pr.AuthInfo)
	}
	cur, ok := s.owners.get(in.ResourceName, s.o.now())
	if ok {
		in.Owned, in.Owner, in.OwnerPathIDs = true, cur.id, slices.Clone(cur.pathIDs)
	}
	return in, cur
}

func (s *server[S, R, Q, P]) Register(ctx context.Context, r *R) (*R, error) {
	name := s.k.Name(r)
	if len(s.o.policies) == 0 || name == "" {
		return s.Next().Register(ctx, r)
	}
	unlock, err := s.owners.lock(ctx, name)
	if err != nil {
		return nil, status.FromContextError(err).Err()
	}
	defer unlock()
	in, cur := s.input(ctx, r, false)
	in.Unchanged = cur != nil && unchanged(r, cur.forms)
	if err := s.o.check(ctx, in); err != nil {
		return nil, err
	}
	resp, err := s.Next().Register(ctx, r)
	if err != nil {
		return nil, err
	}
	o := &owner{id: in.ResourceID, pathIDs: slices.Clone(s.k.PathIDs(resp)), forms: nsForms(r, resp), expires: expiration(resp)}
	if cur != nil && cur.id != in.ResourceID {
		// Another identity registered the name again (the same network
		// service, or a custom policy allowed it): the first registrant stays
		// the owner, with the path of its own last registration. The
		// registration lives on until the latest expiry.
		o.id, o.pathIDs = cur.id, cur.pathIDs
		if in.Unchanged {
			o.forms = cur.forms
		}
	}
	s.owners.set(name, o, s.o.now())
	return resp, nil
}

func (s *server[S, R, Q, P]) Find(q *Q, srv grpc.ServerStreamingServer[P]) error {
	return s.Next().Find(q, srv)
}

func (s *server[S, R, Q, P]) Unregister(ctx context.Context, r *R) (*emptypb.Empty, error) {
	name := s.k.Name(r)
	if len(s.o.policies) == 0 || name == "" {
		return s.Next().Unregister(ctx, r)
	}
	unlock, err := s.owners.lock(ctx, name)
	if err != nil {
		return nil, status.FromContextError(err).Err()
	}
	defer unlock()
	in, _ := s.input(ctx, r, true)
	if err := s.o.check(ctx, in); err != nil {
		return nil, err
	}
	resp, err := s.Next().Unregister(ctx, r)
	if err != nil {
		return nil, err
	}
	s.owners.remove(name)
	return resp, nil
}

var (
	_ registry.NetworkServiceRegistryServer         = (*server[registry.NetworkServiceRegistryServer, kind.NSR, kind.NSQ, kind.NSP])(nil)
	_ registry.NetworkServiceEndpointRegistryServer = (*server[registry.NetworkServiceEndpointRegistryServer, kind.NSER, kind.NSEQ, kind.NSEP])(nil)
)
