// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package monitor_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/networkservice/monitor"
)

// stream is a MonitorConnections server stream that hands events to the
// test; with gate set, every Send waits for the gate to open.
type stream struct {
	grpc.ServerStream
	ctx    context.Context
	events chan *networkservice.ConnectionEvent
	gate   chan struct{}
}

func newStream(ctx context.Context, gated bool) *stream {
	s := &stream{ctx: ctx, events: make(chan *networkservice.ConnectionEvent, 1024)}
	if gated {
		s.gate = make(chan struct{})
	}
	return s
}

func (s *stream) Send(ev *networkservice.ConnectionEvent) error {
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-s.ctx.Done():
			return s.ctx.Err()
		}
	}
	s.events <- ev
	return nil
}

func (s *stream) Context() context.Context     { return s.ctx }
func (s *stream) SetHeader(metadata.MD) error  { return nil }
func (s *stream) SendHeader(metadata.MD) error { return nil }
func (s *stream) SetTrailer(metadata.MD)       {}

// subscribe runs MonitorConnections for sel until the returned cancel is
// called; cancel waits for the handler to return.
func subscribe(t *testing.T, srv *monitor.Server, sel *networkservice.MonitorScopeSelector, gated bool) (*stream, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := newStream(ctx, gated)
	done := make(chan error, 1)
	go func() { done <- srv.MonitorConnections(sel, s) }()
	stop := func() {
		cancel()
		<-done
	}
	t.Cleanup(stop)
	return s, stop
}

// next returns the next event or fails after a while.
func (s *stream) next(t *testing.T) *networkservice.ConnectionEvent {
	t.Helper()
	select {
	case ev := <-s.events:
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5s")
		return nil
	}
}

// quiet fails if an event arrives within d.
func (s *stream) quiet(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case ev := <-s.events:
		t.Fatalf("unexpected event %s %v", ev.GetType(), ev.GetConnections())
	case <-time.After(d):
	}
}
