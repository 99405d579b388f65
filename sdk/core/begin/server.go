// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package begin

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/core/metadata"
)

// Server is the server-side begin element.
type Server struct {
	chain.ServerLink
	t *tracker
}

// NewServer returns a server-side begin element.
func NewServer() *Server { return &Server{t: newTracker(metadata.Server)} }

// Len reports how many connections the element holds; tests use it to prove
// that nothing is left behind.
func (s *Server) Len() int { return s.t.len() }

// Request serialises the Request with the other calls of its connection.
func (s *Server) Request(ctx context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	id := req.GetConnection().GetId()
	if id == "" {
		return nil, status.Error(codes.InvalidArgument, "begin: request has no connection id")
	}
	if s.t.reentrant(ctx, id) {
		return s.Next().Request(ctx, req)
	}
	e, err := s.t.lockEntry(ctx, id, true)
	if err != nil {
		return nil, err
	}
	defer e.release()
	ctx = s.t.withEntry(ctx, e, &serverEvents{s: s, e: e})

	if req.GetConnection().GetState() == networkservice.State_RESELECT_REQUESTED && e.req != nil {
		// The client gave up on the old path: free it downstream before the new
		// Request picks another one. Failure is tolerated, the old hop may be dead.
		_, _ = s.Next().Close(ctx, e.req.GetConnection())
	}
	conn, err := s.Next().Request(ctx, req)
	if err != nil {
		if e.req == nil {
			s.t.drop(e)
		}
		return nil, err
	}
	e.remember(ctx, req, conn)
	return conn, nil
}

// Close closes the stored connection through the rest of the chain.
func (s *Server) Close(ctx context.Context, conn *networkservice.Connection) (*emptypb.Empty, error) {
	id := conn.GetId()
	if s.t.reentrant(ctx, id) {
		return s.Next().Close(ctx, conn)
	}
	e, err := s.t.lockEntry(ctx, id, false)
	if err != nil || e == nil {
		return &emptypb.Empty{}, err
	}
	defer e.release()
	if e.req == nil {
		s.t.drop(e)
		return &emptypb.Empty{}, nil
	}
	// A copy: the chain writes into it (the caller's token) before it may
	// refuse the caller, and a refused Close must leave the stored
	// connection as it was.
	_, err = s.Next().Close(s.t.withEntry(ctx, e, &serverEvents{s: s, e: e}), e.req.GetConnection().Clone())
	if c := status.Code(err); c == codes.PermissionDenied || c == codes.Unauthenticated {
		// The chain refused this caller: the connection is not closed and
		// stays with its owner.
		return nil, err
	}
	s.t.drop(e)
	return &emptypb.Empty{}, err
}

type serverEvents struct {
	s *Server
	e *entry
}

func (f *serverEvents) Request(opts ...Option) <-chan error {
	return runEvent(f.e, opts, func(*eventOptions) error {
		ctx, cancel := eventContext(f.e)
		defer cancel()
		req := f.e.req.Clone()
		conn, err := f.s.Next().Request(ctx, req)
		if err != nil {
			return err
		}
		f.e.remember(f.e.ctx, req, conn)
		return nil
	})
}

func (f *serverEvents) Close(opts ...Option) <-chan error {
	return runEvent(f.e, opts, func(*eventOptions) error {
		ctx, cancel := eventContext(f.e)
		defer cancel()
		defer f.s.t.drop(f.e)
		_, err := f.s.Next().Close(ctx, f.e.req.GetConnection())
		return err
	})
}

var _ networkservice.NetworkServiceServer = (*Server)(nil)
