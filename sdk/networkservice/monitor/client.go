// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package monitor

import (
	"context"
	"time"

	"github.com/sirupsen/logrus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/core/begin"
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
	// toEndpoint: the next hop is the connection's endpoint.
	toEndpoint bool
	cc         grpc.ClientConnInterface
	cancel     context.CancelFunc
	done       chan struct{}
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
	w := &watch{nextID: next.GetId(), toEndpoint: nextIsEndpoint(conn), cc: cc, cancel: cancel, done: make(chan struct{})}
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
		if c.o.endpointProbe > 0 && w.toEndpoint && r.events != nil {
			// Not in this goroutine: the Close stops this watch and waits
			// for it.
			go c.closeIfEndpointGone(ctx, cc, r, logger)
		}
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

// nextIsEndpoint reports whether conn's next path segment is its endpoint's
// (the last one, named as the endpoint).
func nextIsEndpoint(conn *networkservice.Connection) bool {
	segs := conn.GetPath().GetPathSegments()
	i := int(conn.GetPath().GetIndex()) + 1
	return i == len(segs)-1 && segs[i].GetName() == conn.GetNetworkServiceEndpointName()
}

// closeIfEndpointGone closes the connection at this hop unless the endpoint
// accepts a connection again within the probe time. A dead endpoint's
// network namespace can outlive it (this hop holds its descriptor), so its
// interfaces would still answer pings: closing removes them, and the
// originating client's liveness check sees a dead data plane and reselects.
// watchCtx is the broken watch's: a successful Request (to this endpoint
// back again, or to another one) or a Close in the meantime replaces the
// watch and cancels it, and then nothing is closed.
func (c *client) closeIfEndpointGone(watchCtx context.Context, cc grpc.ClientConnInterface, r *relay, logger logrus.FieldLogger) {
	if c.ctx.Err() != nil || reachable(c.ctx, cc, c.o.endpointProbe) || watchCtx.Err() != nil {
		return
	}
	logger.Warnf("the endpoint of %s is gone (no connection within %s): closing the connection here", r.id, c.o.endpointProbe)
	if err := <-r.events.Close(begin.CancelContext(c.ctx)); err != nil && c.ctx.Err() == nil {
		logger.Debugf("closing %s after its endpoint's loss: %v", r.id, err)
	}
}

// reachable reports whether the next hop behind cc accepts a new stream
// within d. A stream, not the connection's state: right after a stream broke
// the state can still say READY for the transport that is closing.
func reachable(ctx context.Context, cc grpc.ClientConnInterface, d time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	if conn, ok := cc.(*grpc.ClientConn); ok {
		conn.ResetConnectBackoff()
	}
	for {
		sctx, stop := context.WithCancel(ctx)
		_, err := networkservice.NewMonitorConnectionClient(cc).MonitorConnections(sctx,
			&networkservice.MonitorScopeSelector{}, grpc.WaitForReady(true))
		stop()
		if err == nil {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(10 * time.Millisecond):
		}
	}
}

var _ networkservice.NetworkServiceClient = (*client)(nil)
