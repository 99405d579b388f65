// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package updatepath

import (
	"context"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/registry/grpcmetadata"
	"github.com/nsmesh/nsmesh/sdk/registry/internal/kind"
	"github.com/nsmesh/nsmesh/sdk/token"
)

// NewNSServer returns updatepath for network services; gen may be nil (no tokens).
func NewNSServer(gen token.Generator) registry.NetworkServiceRegistryServer {
	return &server[registry.NetworkServiceRegistryServer, kind.NSR, kind.NSQ, kind.NSP]{k: kind.NS, gen: gen}
}

// NewNSEServer returns updatepath for endpoints; gen may be nil (no tokens).
func NewNSEServer(gen token.Generator) registry.NetworkServiceEndpointRegistryServer {
	return &server[registry.NetworkServiceEndpointRegistryServer, kind.NSER, kind.NSEQ, kind.NSEP]{k: kind.NSE, gen: gen}
}

type server[S kind.Server[R, Q, P], R, Q, P any] struct {
	chain.Link[S]
	k   *kind.Kind[R, Q, P]
	gen token.Generator
}

type expiryKey struct{}

// ExpiryFromContext returns when the earlier of the caller's and this hop's
// token expires, if either is known.
func ExpiryFromContext(ctx context.Context) (time.Time, bool) {
	t, ok := ctx.Value(expiryKey{}).(time.Time)
	return t, ok
}

// update adds this hop to the context's path and r's path_ids. It returns the
// context for the rest of the chain, the updated copy of r and a function
// restoring the caller's index.
func (s *server[S, R, Q, P]) update(ctx context.Context, r *R) (context.Context, *R, func(), error) {
	p := grpcmetadata.PathFromContext(ctx)
	if p == nil {
		p = &grpcmetadata.Path{}
		ctx = grpcmetadata.WithPath(ctx, p)
	}
	peerTok, peerExp, _, err := token.FromIncoming(ctx)
	if err != nil {
		return nil, nil, nil, status.Errorf(codes.Unauthenticated, "registry: %v", err)
	}
	var authInfo credentials.AuthInfo
	if pr, ok := peer.FromContext(ctx); ok {
		authInfo = pr.AuthInfo
	}
	var ownTok string
	var ownExp time.Time
	if s.gen != nil {
		if ownTok, ownExp, err = s.gen.Generate(authInfo); err != nil {
			return nil, nil, nil, status.Errorf(codes.Internal, "registry: cannot make a path token: %v", err)
		}
	}

	callerIndex := p.Index
	if len(p.PathSegments) == 0 {
		p.PathSegments = []*grpcmetadata.PathSegment{{Token: peerTok}, {Token: ownTok}}
		p.Index = 1
	} else {
		p.Index++
		p.PathSegments[p.Index-1].Token = peerTok
		if int(p.Index) < len(p.PathSegments) {
			p.PathSegments[p.Index].Token = ownTok
		} else {
			p.PathSegments = append(p.PathSegments, &grpcmetadata.PathSegment{Token: ownTok})
		}
	}

	r = s.k.Clone(r)
	ids := s.k.PathIDs(r)
	for len(ids) <= int(p.Index) {
		ids = append(ids, "")
	}
	if sub := subject(peerTok); sub != "" {
		ids[p.Index-1] = sub
	}
	if sub := subject(ownTok); sub != "" {
		ids[p.Index] = sub
	}
	s.k.SetPathIDs(r, ids)

	if exp := earliest(peerExp, ownExp); !exp.IsZero() {
		ctx = context.WithValue(ctx, expiryKey{}, exp)
	}
	return ctx, r, func() { p.Index = callerIndex }, nil
}

func subject(tok string) string {
	if tok == "" {
		return ""
	}
	c, err := token.Parse(tok)
	if err != nil {
		return ""
	}
	return c.Subject
}

func earliest(a, b time.Time) time.Time {
	switch {
	case a.IsZero():
		return b
	case b.IsZero() || a.Before(b):
		return a
	}
	return b
}

func (s *server[S, R, Q, P]) Register(ctx context.Context, r *R) (*R, error) {
	ctx, r, restore, err := s.update(ctx, r)
	if err != nil {
		return nil, err
	}
	defer restore()
	return s.Next().Register(ctx, r)
}

func (s *server[S, R, Q, P]) Find(q *Q, srv grpc.ServerStreamingServer[P]) error {
	return s.Next().Find(q, srv)
}

func (s *server[S, R, Q, P]) Unregister(ctx context.Context, r *R) (*emptypb.Empty, error) {
	ctx, r, restore, err := s.update(ctx, r)
	if err != nil {
		return nil, err
	}
	defer restore()
	return s.Next().Unregister(ctx, r)
}

var (
	_ registry.NetworkServiceRegistryServer         = (*server[registry.NetworkServiceRegistryServer, kind.NSR, kind.NSQ, kind.NSP])(nil)
	_ registry.NetworkServiceEndpointRegistryServer = (*server[registry.NetworkServiceEndpointRegistryServer, kind.NSER, kind.NSEQ, kind.NSEP])(nil)
)
