// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package dial

import (
	"context"
	"net/url"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/core/metadata"
	"github.com/nsmesh/nsmesh/sdk/tools/clienturlctx"
	"github.com/nsmesh/nsmesh/sdk/tools/grpcutils"
	"github.com/nsmesh/nsmesh/sdk/tools/log"
)

// closeTimeout bounds the Close of an abandoned downstream path when the
// request context has no deadline of its own.
const closeTimeout = 15 * time.Second

// connState is what the element keeps per connection.
type connState struct {
	url   string // the URL cc was dialled for; empty when injected
	cc    grpc.ClientConnInterface
	owned *grpc.ClientConn // non-nil when dial created cc and must close it
}

var connKey = metadata.NewKey[*connState]("dial.conn")

// ClientConn returns the conn to the next hop of the connection being
// handled, as stored by dial or NewFixedClient in Client-side metadata.
func ClientConn(ctx context.Context) (grpc.ClientConnInterface, bool) {
	st, ok := connKey.Load(ctx, metadata.Client)
	if !ok || st.cc == nil {
		return nil, false
	}
	return st.cc, true
}

// NewClient returns the dial element.
func NewClient(opts ...Option) networkservice.NetworkServiceClient {
	o := options{}
	for _, opt := range opts {
		opt(&o)
	}
	c := &client{o: o, open: make(map[*grpc.ClientConn]struct{})}
	if o.ctx != nil {
		context.AfterFunc(o.ctx, c.closeAll)
	}
	return c
}

type client struct {
	chain.ClientLink
	o options

	mu   sync.Mutex
	open map[*grpc.ClientConn]struct{}
	done bool
}

// release closes cc and forgets it.
func (c *client) release(cc *grpc.ClientConn) {
	c.mu.Lock()
	delete(c.open, cc)
	c.mu.Unlock()
	_ = cc.Close()
}

func (c *client) closeAll() {
	c.mu.Lock()
	open := c.open
	c.open, c.done = map[*grpc.ClientConn]struct{}{}, true
	c.mu.Unlock()
	for cc := range open {
		_ = cc.Close()
	}
}

func (c *client) Request(ctx context.Context, req *networkservice.NetworkServiceRequest, opts ...grpc.CallOption) (*networkservice.Connection, error) {
	st, ok := connKey.Load(ctx, metadata.Client)
	if ok && st.owned == nil {
		// Injected by NewFixedClient: nothing to dial.
		return c.Next().Request(ctx, req, opts...)
	}
	u := clienturlctx.ClientURL(ctx)
	if u == nil {
		if ok {
			// No selection ran for this call (e.g. an event); stay on the known hop.
			return c.Next().Request(ctx, req, opts...)
		}
		return nil, status.Error(codes.Internal, "dial: the request context has no URL for the next hop; place clienturl or a selection element (discover, discoverforwarder) before dial")
	}
	if ok && st.url != u.String() {
		log.FromContext(ctx, c.o.logger).WithField("element", "dial").
			Infof("next hop moved from %s to %s: closing the old path", st.url, u)
		closeCtx, cancel := detached(ctx)
		_, _ = c.Next().Close(closeCtx, req.GetConnection(), opts...)
		cancel()
		c.release(st.owned)
		connKey.Delete(ctx, metadata.Client)
		ok = false
	}
	if ok && st.owned != nil && st.owned.GetState() == connectivity.TransientFailure {
		// The next hop went away and gRPC waits out its reconnect backoff
		// (up to two minutes) before trying again. This Request is the
		// caller's own retry, paced by its own backoff (heal, refresh): try
		// the hop now, it may be back.
		c.revive(ctx, st.owned)
	}
	first := !ok
	if !ok {
		cc, err := c.dial(ctx, u)
		if err != nil {
			return nil, err
		}
		st = &connState{url: u.String(), cc: cc, owned: cc}
		if !connKey.Store(ctx, metadata.Client, st) {
			c.release(cc)
			return nil, status.Error(codes.Internal, "dial: no per-connection metadata; the client chain needs begin.NewClient before dial")
		}
	}
	conn, err := c.Next().Request(ctx, req, opts...)
	if err != nil {
		if first {
			// begin forgets a connection whose first Request failed: so do we.
			c.release(st.owned)
			connKey.Delete(ctx, metadata.Client)
		}
		return nil, err
	}
	return conn, nil
}

func (c *client) Close(ctx context.Context, conn *networkservice.Connection, opts ...grpc.CallOption) (*emptypb.Empty, error) {
	st, ok := connKey.Load(ctx, metadata.Client)
	if u := clienturlctx.ClientURL(ctx); !ok && u != nil {
		// The connection is established but we hold no conn for it: the
		// Request after a reselect (which closed the old path and its conn)
		// failed. The caller still expects the Close to reach the next hop.
		cc, err := c.dial(ctx, u)
		if err != nil {
			return nil, err
		}
		st, ok = &connState{url: u.String(), cc: cc, owned: cc}, true
		if !connKey.Store(ctx, metadata.Client, st) {
			c.release(cc)
			return nil, status.Error(codes.Internal, "dial: no per-connection metadata; the client chain needs begin.NewClient before dial")
		}
	}
	out, err := c.Next().Close(ctx, conn, opts...)
	if ok && st.owned != nil {
		c.release(st.owned)
		connKey.Delete(ctx, metadata.Client)
	}
	return out, err
}

// dial creates the conn for u and, with a timeout, waits until it is Ready.
func (c *client) dial(ctx context.Context, u *url.URL) (*grpc.ClientConn, error) {
	cc, err := grpc.NewClient(grpcutils.Target(u), c.o.dialOpts...)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "dial: %s: %v", u, err)
	}
	c.mu.Lock()
	if c.done {
		c.mu.Unlock()
		_ = cc.Close()
		return nil, status.Errorf(codes.Unavailable, "dial: %s: the client is shutting down", u)
	}
	c.open[cc] = struct{}{}
	c.mu.Unlock()
	if c.o.timeout <= 0 {
		return cc, nil
	}
	waitCtx, cancel := context.WithTimeout(ctx, c.o.timeout)
	defer cancel()
	cc.Connect()
	for {
		s := cc.GetState()
		switch s {
		case connectivity.Ready:
			return cc, nil
		case connectivity.TransientFailure, connectivity.Shutdown:
			// The first attempt failed (refused, no socket): gRPC would only
			// retry after a backoff, so report now and let the caller move on.
			c.release(cc)
			return nil, status.Errorf(codes.Unavailable, "dial: %s is not reachable (%s)", u, s)
		}
		if !cc.WaitForStateChange(waitCtx, s) {
			c.release(cc)
			return nil, status.Errorf(codes.Unavailable, "dial: %s is not ready within %s (state %s)", u, c.o.timeout, s)
		}
	}
}

// reviveWait bounds the wait for a revived conn. gRPC keeps reporting
// TRANSIENT_FAILURE until a reconnect succeeds, so a failed reconnect is only
// seen as this wait running out: keep it short, the caller retries anyway.
// Within it the reconnect is retried every reviveRetry, so a hop that comes
// back during the wait is used at once.
const (
	reviveWait  = 200 * time.Millisecond
	reviveRetry = 50 * time.Millisecond
)

// revive makes a conn in TRANSIENT_FAILURE reconnect now and waits, bounded,
// until it is Ready; the RPC that follows reports the outcome.
func (c *client) revive(ctx context.Context, cc *grpc.ClientConn) {
	d := reviveWait
	if c.o.timeout > 0 && c.o.timeout < d {
		d = c.o.timeout
	}
	waitCtx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for {
		cc.ResetConnectBackoff()
		cc.Connect()
		retryCtx, stop := context.WithTimeout(waitCtx, reviveRetry)
		s := cc.GetState()
		for s != connectivity.Ready && s != connectivity.Shutdown && cc.WaitForStateChange(retryCtx, s) {
			s = cc.GetState()
		}
		stop()
		if s == connectivity.Ready || s == connectivity.Shutdown || waitCtx.Err() != nil {
			return
		}
	}
}

// detached returns a context with ctx's values that survives ctx's
// cancellation, bounded by ctx's deadline or closeTimeout.
func detached(ctx context.Context) (context.Context, context.CancelFunc) {
	d := closeTimeout
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); left > 0 && left < d {
			d = left
		}
	}
	return context.WithTimeout(context.WithoutCancel(ctx), d)
}

// NewFixedClient returns an element that makes cc the connection's conn to
// the next hop, so that dial does not dial. cc is never closed by the chain.
func NewFixedClient(cc grpc.ClientConnInterface) networkservice.NetworkServiceClient {
	return &fixed{cc: cc}
}

type fixed struct {
	chain.ClientLink
	cc grpc.ClientConnInterface
}

func (f *fixed) Request(ctx context.Context, req *networkservice.NetworkServiceRequest, opts ...grpc.CallOption) (*networkservice.Connection, error) {
	if f.cc != nil {
		connKey.Store(ctx, metadata.Client, &connState{cc: f.cc})
	}
	return f.Next().Request(ctx, req, opts...)
}

func (f *fixed) Close(ctx context.Context, conn *networkservice.Connection, opts ...grpc.CallOption) (*emptypb.Empty, error) {
	if f.cc != nil {
		connKey.Store(ctx, metadata.Client, &connState{cc: f.cc})
	}
	return f.Next().Close(ctx, conn, opts...)
}

var (
	_ networkservice.NetworkServiceClient = (*client)(nil)
	_ networkservice.NetworkServiceClient = (*fixed)(nil)
)
