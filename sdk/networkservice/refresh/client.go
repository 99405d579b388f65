// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package refresh

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/core/begin"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/core/metadata"
	"github.com/nsmesh/nsmesh/sdk/tools/log"
)

// NewClient returns the refresh element; refreshes stop when ctx ends.
func NewClient(ctx context.Context, opts ...Option) networkservice.NetworkServiceClient {
	o := options{clock: realClock{}, retry: DefaultRetryInterval}
	for _, opt := range opts {
		opt(&o)
	}
	if o.retry <= 0 {
		o.retry = DefaultRetryInterval
	}
	return &client{ctx: ctx, o: o}
}

type client struct {
	chain.ClientLink
	ctx context.Context
	o   options
}

var scheduleKey = metadata.NewKey[*schedule]("refresh.schedule")

// schedule is the pending refresh of one connection; it is replaced after
// every successful Request and cancelled on Close.
type schedule struct {
	ctx    context.Context
	cancel context.CancelFunc

	mu    sync.Mutex
	timer Timer
}

func (s *schedule) after(c Clock, d time.Duration, f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx.Err() != nil {
		return
	}
	s.timer = c.AfterFunc(d, f)
}

func (s *schedule) stop() {
	s.cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.timer != nil {
		s.timer.Stop()
	}
}

func (c *client) Request(ctx context.Context, req *networkservice.NetworkServiceRequest, opts ...grpc.CallOption) (*networkservice.Connection, error) {
	conn, err := c.Next().Request(ctx, req, opts...)
	if err != nil {
		// Keep the pending refresh: it is either the retry loop that made
		// this call or still the best plan for an established connection.
		return nil, err
	}
	logger := log.FromContext(ctx, c.o.logger).WithField("element", "refresh")
	if old, ok := scheduleKey.Load(ctx, metadata.Client); ok {
		old.stop()
		scheduleKey.Delete(ctx, metadata.Client)
	}
	events := begin.FromContext(ctx)
	if events == nil {
		logger.Warn("no begin in the chain: connection will not be refreshed")
		return conn, nil
	}
	d, ok := After(conn, c.o.clock.Now())
	if !ok {
		logger.Debugf("path of %s has no expiry: not refreshing", conn.GetId())
		return conn, nil
	}
	sctx, cancel := context.WithCancel(c.ctx)
	s := &schedule{ctx: sctx, cancel: cancel}
	if !scheduleKey.Store(ctx, metadata.Client, s) {
		cancel()
		return conn, nil
	}
	id := conn.GetId()
	s.after(c.o.clock, d, func() { c.fire(s, events, id, logger) })
	return conn, nil
}

// fire runs one refresh and, when it fails, schedules a retry.
func (c *client) fire(s *schedule, events begin.EventFactory, id string, logger logrus.FieldLogger) {
	if s.ctx.Err() != nil {
		return
	}
	err := <-events.Request(begin.CancelContext(s.ctx))
	if err == nil || s.ctx.Err() != nil || errors.Is(err, begin.ErrClosed) {
		return
	}
	wait := jitter(c.o.retry)
	logger.Warnf("refresh of %s failed, retrying in %s: %v", id, wait, err)
	s.after(c.o.clock, wait, func() { c.fire(s, events, id, logger) })
}

func (c *client) Close(ctx context.Context, conn *networkservice.Connection, opts ...grpc.CallOption) (*emptypb.Empty, error) {
	if s, ok := scheduleKey.Load(ctx, metadata.Client); ok {
		s.stop()
		scheduleKey.Delete(ctx, metadata.Client)
	}
	return c.Next().Close(ctx, conn, opts...)
}

// jitter spreads d by ±20% so that clients failing together do not retry in
// lockstep.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64())) //nolint:gosec // timing jitter, not security
}

// After returns when a connection returned at now should be refreshed:
// the time until the earliest segment expiry, scaled by the client's place
// in the path. ok is false when no segment has an expiry.
func After(conn *networkservice.Connection, now time.Time) (d time.Duration, ok bool) {
	segs := conn.GetPath().GetPathSegments()
	var earliest time.Time
	for _, seg := range segs {
		if seg.GetExpires() == nil {
			continue
		}
		if t := seg.GetExpires().AsTime(); !ok || t.Before(earliest) {
			earliest, ok = t, true
		}
	}
	if !ok {
		return 0, false
	}
	left := earliest.Sub(now)
	if left <= 0 {
		return 0, true
	}
	scale := 1.0 / 3
	if n := len(segs); n > 1 {
		scale = 0.2 + 0.2*float64(conn.GetPath().GetIndex())/float64(n)
	}
	return time.Duration(float64(left) * scale), true
}

var _ networkservice.NetworkServiceClient = (*client)(nil)
