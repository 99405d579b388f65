// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package streams holds the Find stream wrappers registry elements share.
package streams

import (
	"context"
	"io"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// ServerContext is a server stream whose Context is replaced.
type ServerContext[P any] struct {
	grpc.ServerStreamingServer[P]
	Ctx context.Context
}

// Context returns the replaced context.
func (s *ServerContext[P]) Context() context.Context { return s.Ctx }

// WithServerContext returns srv with ctx as its context.
func WithServerContext[P any](ctx context.Context, srv grpc.ServerStreamingServer[P]) grpc.ServerStreamingServer[P] {
	return &ServerContext[P]{ServerStreamingServer: srv, Ctx: ctx}
}

// ServerFilter is a server stream that passes each sent message through Fn
// first; Fn returns nil to drop it.
type ServerFilter[P any] struct {
	grpc.ServerStreamingServer[P]
	Fn func(*P) *P
}

// Send sends Fn(p) unless it is nil.
func (s *ServerFilter[P]) Send(p *P) error {
	if p = s.Fn(p); p == nil {
		return nil
	}
	return s.ServerStreamingServer.Send(p)
}

// ClientFilter is a client stream that passes each received message through
// Fn; Fn returns nil to drop it.
type ClientFilter[P any] struct {
	grpc.ServerStreamingClient[P]
	Fn func(*P) *P
}

// Recv returns the next message Fn keeps.
func (s *ClientFilter[P]) Recv() (*P, error) {
	for {
		p, err := s.ServerStreamingClient.Recv()
		if err != nil {
			return nil, err
		}
		if p = s.Fn(p); p != nil {
			return p, nil
		}
	}
}

// OnEnd wraps a client stream so that done runs once, when Recv first fails
// (end of stream included) or when ctx is done, whichever comes first.
func OnEnd[P any](ctx context.Context, s grpc.ServerStreamingClient[P], done func()) grpc.ServerStreamingClient[P] {
	var once sync.Once
	run := func() { once.Do(done) }
	stop := context.AfterFunc(ctx, run)
	return &onEnd[P]{ServerStreamingClient: s, end: func() {
		stop()
		run()
	}}
}

type onEnd[P any] struct {
	grpc.ServerStreamingClient[P]
	end func()
}

func (s *onEnd[P]) Recv() (*P, error) {
	p, err := s.ServerStreamingClient.Recv()
	if err != nil {
		s.end()
	}
	return p, err
}

// Pipe connects an in-process server Find to a client stream: the server side
// sends into a channel that the client side receives from. Both sides end
// when ctx is done.
type Pipe[P any] struct {
	ctx  context.Context
	ch   chan *P
	done chan struct{}
	err  error
}

// NewPipe returns a pipe for a Find running under ctx.
func NewPipe[P any](ctx context.Context) *Pipe[P] {
	return &Pipe[P]{ctx: ctx, ch: make(chan *P), done: make(chan struct{})}
}

// Server returns the sending side.
func (p *Pipe[P]) Server() grpc.ServerStreamingServer[P] { return &pipeServer[P]{p: p} }

// Client returns the receiving side.
func (p *Pipe[P]) Client() grpc.ServerStreamingClient[P] { return &pipeClient[P]{p: p} }

// Close ends the stream with err (nil is a clean end) once the server side has
// returned. As over gRPC, the client sees err as a status.
func (p *Pipe[P]) Close(err error) {
	if err != nil {
		if _, ok := status.FromError(err); !ok {
			err = status.FromContextError(err).Err()
		}
	}
	p.err = err
	close(p.done)
}

type pipeServer[P any] struct{ p *Pipe[P] }

func (s *pipeServer[P]) Send(m *P) error {
	select {
	case s.p.ch <- m:
		return nil
	case <-s.p.ctx.Done():
		return status.FromContextError(s.p.ctx.Err()).Err()
	}
}
func (s *pipeServer[P]) Context() context.Context { return s.p.ctx }

// Headers have nowhere to go in process: the caller shares the context.
func (s *pipeServer[P]) SetHeader(metadata.MD) error  { return nil }
func (s *pipeServer[P]) SendHeader(metadata.MD) error { return nil }
func (s *pipeServer[P]) SetTrailer(metadata.MD)       {}
func (s *pipeServer[P]) SendMsg(m any) error {
	pm, ok := m.(*P)
	if !ok {
		return status.Errorf(codes.Internal, "streams: Find sends %T", m)
	}
	return s.Send(pm)
}
func (s *pipeServer[P]) RecvMsg(any) error {
	return status.Error(codes.Internal, "streams: a Find server receives nothing")
}

type pipeClient[P any] struct{ p *Pipe[P] }

func (c *pipeClient[P]) Recv() (*P, error) {
	select {
	case m := <-c.p.ch:
		return m, nil
	case <-c.p.done:
		if c.p.err != nil {
			return nil, c.p.err
		}
		return nil, io.EOF
	case <-c.p.ctx.Done():
		return nil, status.FromContextError(c.p.ctx.Err()).Err()
	}
}
func (c *pipeClient[P]) Header() (metadata.MD, error) { return nil, nil }
func (c *pipeClient[P]) Trailer() metadata.MD         { return nil }
func (c *pipeClient[P]) CloseSend() error             { return nil }
func (c *pipeClient[P]) Context() context.Context     { return c.p.ctx }
func (c *pipeClient[P]) SendMsg(any) error            { return nil }
func (c *pipeClient[P]) RecvMsg(m any) error {
	got, err := c.Recv()
	if err != nil {
		return err
	}
	dst, ok1 := m.(proto.Message)
	src, ok2 := any(got).(proto.Message)
	if !ok1 || !ok2 {
		return status.Errorf(codes.Internal, "streams: cannot receive %T into %T", got, m)
	}
	proto.Reset(dst)
	proto.Merge(dst, src)
	return nil
}
