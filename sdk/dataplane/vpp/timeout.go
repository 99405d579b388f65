// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package vpp

import (
	"context"
	"errors"
	"time"

	"go.fd.io/govpp/api"
)

// DefaultMinOperationTimeout is the least time a call on a connection from
// Dial is given, whatever its context's deadline.
const DefaultMinOperationTimeout = 2 * time.Second

// WithMinTimeout returns conn with every Invoke and NewStream given at least
// least from the moment of the call (see the package documentation). A
// non-positive least returns conn unchanged.
func WithMinTimeout(conn api.Connection, least time.Duration) api.Connection {
	if least <= 0 {
		return conn
	}
	return &minTimeoutConn{conn: conn, least: least}
}

type minTimeoutConn struct {
	conn  api.Connection
	least time.Duration
}

func (c *minTimeoutConn) Invoke(ctx context.Context, req, reply api.Message) error {
	ctx, release := extend(ctx, c.least)
	defer release()
	return c.conn.Invoke(ctx, req, reply)
}

func (c *minTimeoutConn) NewStream(ctx context.Context, options ...api.StreamOption) (api.Stream, error) {
	ctx, release := extend(ctx, c.least)
	s, err := c.conn.NewStream(ctx, options...)
	if err != nil {
		release()
		return nil, err
	}
	return &releasingStream{Stream: s, release: release}, nil
}

func (c *minTimeoutConn) WatchEvent(ctx context.Context, event api.Message) (api.Watcher, error) {
	return c.conn.WatchEvent(ctx, event)
}

// extend returns ctx when its deadline leaves at least least, and otherwise
// a context with ctx's values that expires least from now and is cancelled when
// ctx is cancelled (but not when ctx's deadline passes). release frees the
// timer and the cancellation hook.
func extend(ctx context.Context, least time.Duration) (context.Context, func()) {
	deadline, ok := ctx.Deadline()
	if !ok || time.Until(deadline) >= least {
		return ctx, func() {}
	}
	ext, cancel := context.WithTimeout(context.WithoutCancel(ctx), least)
	if errors.Is(ctx.Err(), context.Canceled) {
		cancel()
		return ext, cancel
	}
	stop := context.AfterFunc(ctx, func() {
		if errors.Is(ctx.Err(), context.Canceled) {
			cancel()
		}
	})
	return ext, func() {
		stop()
		cancel()
	}
}

// releasingStream releases the extended context when the stream closes; the
// generated dump clients close it when they read the final control ping
// reply.
type releasingStream struct {
	api.Stream
	release func()
}

func (s *releasingStream) Close() error {
	err := s.Stream.Close()
	s.release()
	return err
}

var _ api.Connection = (*minTimeoutConn)(nil)
