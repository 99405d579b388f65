// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package monitor

import (
	"context"

	"github.com/sirupsen/logrus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/core/metadata"
	"github.com/nsmesh/nsmesh/sdk/networkservice/dial"
	"github.com/nsmesh/nsmesh/sdk/tools/log"
)

// NewClient returns the element that relays the next hop's events to this
// hop's Server; its streams end at the latest when ctx ends.
func NewClient(ctx context.Context, opts ...Option) networkservice.NetworkServiceClient {
	o := options{}
	for _, opt := range opts {
		opt(&o)
	}
	return &client{ctx: ctx, o: o}
}

type client struct {
	chain.ClientLink
	ctx context.Context
	o   options
}

// watch is the relay stream of one connection.
type watch struct {
	nextID string
	cc     grpc.ClientConnInterface
	cancel context.CancelFunc
	done   chan struct{}
}

func (w *watch) stop() {
	w.cancel()
	<-w.done
}

func (w *watch) running() bool {
	select {
	case <-w.done:
		return false
	default:
		return true
	}
}

var watchKey = metadata.NewKey[*watch]("monitor.watch")

func (c *client) Request(ctx context.Context, req *networkservice.NetworkServiceRequest, opts ...grpc.CallOption) (*networkservice.Connection, error) {
	conn, err := c.Next().Request(ctx, req, opts...)
	if err != nil {
		return nil, err
	}
	r := relayFrom(ctx)
	cc, ok := dial.ClientConn(ctx)
	next := conn.GetNextPathSegment()
	if r == nil || !ok || next.GetId() == "" {
		return conn, nil
	}
	if w, ok := watchKey.Load(ctx, metadata.Client); ok {
		if w.nextID == next.GetId() && w.cc == cc && w.running() {
			return conn, nil
		}
		w.stop()
	}
	sel := &networkservice.MonitorScopeSelector{PathSegments: []*networkservice.PathSegment{{Id: next.GetId(), Name: next.GetName()}}}
	wctx, cancel := context.WithCancel(c.ctx)
	w := &watch{nextID: next.GetId(), cc: cc, cancel: cancel, done: make(chan struct{})}
	if !watchKey.Store(ctx, metadata.Client, w) {
		cancel()
		return conn, nil
	}
	logger := log.FromContext(ctx, c.o.logger).WithField("element", "monitor")
	go c.run(wctx, w, cc, sel, r, logger, opts)
	return conn, nil
}

func (c *client) Close(ctx context.Context, conn *networkservice.Connection, opts ...grpc.CallOption) (*emptypb.Empty, error) {
	if w, ok := watchKey.Load(ctx, metadata.Client); ok {
		w.stop()
		watchKey.Delete(ctx, metadata.Client)
	}
	return c.Next().Close(ctx, conn, opts...)
}

// run relays the events of one stream until it breaks or ctx ends.
func (c *client) run(ctx context.Context, w *watch, cc grpc.ClientConnInterface, sel *networkservice.MonitorScopeSelector,
	r *relay, logger logrus.FieldLogger, opts []grpc.CallOption) {
	defer close(w.done)
	lost := func(err error) {
		if ctx.Err() != nil {
			return // stopped on purpose
		}
		if status.Code(err) == codes.Unimplemented {
			logger.Warnf("next hop of %s does not implement MonitorConnection; its state is not relayed", r.id)
			return
		}
		logger.Warnf("lost the monitor stream of %s to the next hop: %v", r.id, err)
		r.s.down(r.id)
	}
	stream, err := networkservice.NewMonitorConnectionClient(cc).MonitorConnections(ctx, sel, opts...)
	if err != nil {
		lost(err)
		return
	}
	for {
		ev, err := stream.Recv()
		if err != nil {
			lost(err)
			return
		}
		for _, in := range ev.GetConnections() {
			// The initial state is relayed as well: the downstream view may
			// have changed between our Request and the stream's start. The
			// Server drops views equal to what it holds.
			if networkservice.MatchesMonitorScopeSelector(in, sel) {
				r.s.relayed(r.id, ev.GetType(), in)
			}
		}
	}
}

var _ networkservice.NetworkServiceClient = (*client)(nil)
