// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package heal

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
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

// NewClient returns the heal element; its watches and heals end when ctx
// ends.
func NewClient(ctx context.Context, opts ...Option) (networkservice.NetworkServiceClient, error) {
	o := options{
		interval:   DefaultLivenessCheckInterval,
		timeout:    DefaultLivenessCheckTimeout,
		minBackoff: DefaultMinBackoff,
		maxBackoff: DefaultMaxBackoff,
		logger:     log.Discard(),
	}
	for _, opt := range opts {
		opt(&o)
	}
	switch {
	case ctx == nil:
		return nil, errors.New("heal: nil context")
	case o.interval <= 0 || o.timeout <= 0:
		return nil, fmt.Errorf("heal: liveness check interval %s and timeout %s must be positive", o.interval, o.timeout)
	case o.minBackoff <= 0 || o.maxBackoff < o.minBackoff:
		return nil, fmt.Errorf("heal: backoff from %s to %s: want 0 < min <= max", o.minBackoff, o.maxBackoff)
	case o.logger == nil:
		return nil, errors.New("heal: nil logger")
	}
	return &client{ctx: ctx, o: o}, nil
}

type client struct {
	chain.ClientLink
	ctx context.Context
	o   options
}

var stateKey = metadata.NewKey[*connState]("heal.state")

// connState is what heal keeps per connection across its Requests.
type connState struct {
	wg sync.WaitGroup // every goroutine started for the connection

	mu  sync.Mutex
	cur *watcher // the watch (or the heal it turned into) of the connection
	// reselecting is the heal whose reselect event is queued or running:
	// that event closes the old path through this element, and that Close
	// must neither stop the heal nor wait for it.
	reselecting *watcher
}

// watcher follows one established connection and, once it breaks, heals it.
type watcher struct {
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	cc     grpc.ClientConnInterface
	id     string // our path segment
	name   string
	index  uint32
	logger logrus.FieldLogger

	conn    atomic.Pointer[networkservice.Connection] // the latest connection returned
	healing atomic.Bool                               // broken: no longer watching
	broken  time.Time                                 // when it broke; set before healing
}

func (w *watcher) watching() bool {
	select {
	case <-w.done:
		return false
	default:
		return !w.healing.Load()
	}
}

func (c *client) Request(ctx context.Context, req *networkservice.NetworkServiceRequest, opts ...grpc.CallOption) (*networkservice.Connection, error) {
	conn, err := c.Next().Request(ctx, req, opts...)
	if err != nil {
		// A watch or heal in progress stays: the connection is as broken or
		// as healthy as before this attempt.
		return nil, err
	}
	logger := log.FromContext(ctx, c.o.logger).WithFields(logrus.Fields{"element": "heal", "conn": conn.GetId()})
	events := begin.FromContext(ctx)
	cc, ok := dial.ClientConn(ctx)
	segs := conn.GetPath().GetPathSegments()
	idx := conn.GetPath().GetIndex()
	if events == nil || !ok || int(idx) >= len(segs) {
		logger.Warn("no begin, dial or own path segment in the chain: the connection is not healed")
		return conn, nil
	}
	st, _ := stateKey.LoadOrStore(ctx, metadata.Client, &connState{})
	seg := segs[idx]

	st.mu.Lock()
	defer st.mu.Unlock()
	old := st.cur
	if old != nil && old.watching() && old.cc == cc && old.id == seg.GetId() {
		old.conn.Store(conn.Clone())
		return conn, nil
	}
	if old != nil {
		// Either a heal this Request completed (it may be the event running
		// us, so do not wait for it) or a watch of a previous next hop.
		old.cancel()
		if old.healing.Load() {
			logger.WithField("duration", time.Since(old.broken).Round(time.Millisecond)).Info("connection healed")
		}
	}
	st.cur = nil
	if c.ctx.Err() != nil {
		return conn, nil
	}
	wctx, cancel := context.WithCancel(c.ctx)
	w := &watcher{
		ctx: wctx, cancel: cancel, done: make(chan struct{}),
		cc: cc, id: seg.GetId(), name: seg.GetName(), index: idx,
		logger: logger,
	}
	w.conn.Store(conn.Clone())
	st.cur = w
	st.wg.Add(1)
	go func() {
		defer st.wg.Done()
		defer close(w.done)
		c.run(w, st, events)
	}()
	return conn, nil
}

func (c *client) Close(ctx context.Context, conn *networkservice.Connection, opts ...grpc.CallOption) (*emptypb.Empty, error) {
	if st, ok := stateKey.Load(ctx, metadata.Client); ok {
		st.mu.Lock()
		w := st.cur
		ownReselect := w != nil && st.reselecting == w
		if !ownReselect {
			st.cur = nil
		}
		st.mu.Unlock()
		if !ownReselect {
			// Every heal event of this connection is cancelled with its
			// watcher and none can be running (the caller holds the
			// connection), so the goroutines end without us.
			if w != nil {
				w.cancel()
			}
			st.wg.Wait()
			stateKey.Delete(ctx, metadata.Client)
		}
	}
	return c.Next().Close(ctx, conn, opts...)
}

// trigger says why a connection needs healing.
type trigger struct {
	why          string
	dataPlaneBad bool
}

// run watches w's connection until it breaks, then heals it.
func (c *client) run(w *watcher, st *connState, events begin.EventFactory) {
	t, ok := c.watch(w)
	if !ok {
		return
	}
	w.broken = time.Now()
	w.healing.Store(true)
	c.heal(w, st, events, t)
}

// watch returns why w's connection broke, or false when w was stopped.
func (c *client) watch(w *watcher) (trigger, bool) {
	monCtx, stopMonitor := context.WithCancel(w.ctx)
	broken := make(chan string, 1)
	monitorDone := make(chan struct{})
	go func() {
		defer close(monitorDone)
		c.monitor(monCtx, w, broken)
	}()
	defer func() {
		stopMonitor()
		<-monitorDone
	}()
	var tick <-chan time.Time
	if c.o.check != nil {
		ticker := time.NewTicker(c.o.interval)
		defer ticker.Stop()
		tick = ticker.C
	}
	for {
		select {
		case <-w.ctx.Done():
			return trigger{}, false
		case why := <-broken:
			return trigger{why: why}, true
		case <-tick:
			if !c.alive(w) {
				if w.ctx.Err() != nil {
					return trigger{}, false
				}
				return trigger{why: "the liveness check failed", dataPlaneBad: true}, true
			}
		}
	}
}

// monitor follows the connection at the next hop and reports, at most once,
// why its control plane is broken.
func (c *client) monitor(ctx context.Context, w *watcher, broken chan<- string) {
	report := func(why string) {
		if ctx.Err() == nil {
			broken <- why
		}
	}
	sel := &networkservice.MonitorScopeSelector{PathSegments: []*networkservice.PathSegment{{Id: w.id, Name: w.name}}}
	stream, err := networkservice.NewMonitorConnectionClient(w.cc).MonitorConnections(ctx, sel)
	if err != nil {
		report(fmt.Sprintf("the monitor stream failed: %v", err))
		return
	}
	for {
		ev, err := stream.Recv()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if status.Code(err) == codes.Unimplemented {
				w.logger.Warn("the next hop does not implement MonitorConnection: only the liveness check can tell a broken connection")
				return
			}
			report(fmt.Sprintf("the monitor stream ended: %v", err))
			return
		}
		if why, bad := judge(w, ev); bad {
			report(why)
			return
		}
	}
}

// judge reports whether ev shows w's connection broken.
func judge(w *watcher, ev *networkservice.ConnectionEvent) (string, bool) {
	var mine *networkservice.Connection
	for _, conn := range ev.GetConnections() {
		segs := conn.GetPath().GetPathSegments()
		if int(w.index) < len(segs) && segs[w.index].GetId() == w.id {
			mine = conn
			break
		}
	}
	switch ev.GetType() {
	case networkservice.ConnectionEventType_INITIAL_STATE_TRANSFER:
		if mine == nil {
			return "the next hop does not know the connection (it restarted?)", true
		}
		if mine.GetState() == networkservice.State_DOWN {
			return "the next hop reports the connection down", true
		}
	case networkservice.ConnectionEventType_UPDATE:
		if mine != nil && mine.GetState() == networkservice.State_DOWN {
			return "the next hop reports the connection down", true
		}
	case networkservice.ConnectionEventType_DELETE:
		if mine != nil {
			return "the next hop deleted the connection", true
		}
	}
	return "", false
}

// alive runs the liveness check once; it is true without a check.
func (c *client) alive(w *watcher) bool {
	if c.o.check == nil {
		return true
	}
	ctx, cancel := context.WithTimeout(w.ctx, c.o.timeout)
	defer cancel()
	return c.o.check(ctx, w.conn.Load())
}

// backoffResetter is what *grpc.ClientConn offers to reconnect at once.
type backoffResetter interface{ ResetConnectBackoff() }

// heal requests the connection again until it is served.
func (c *client) heal(w *watcher, st *connState, events begin.EventFactory, t trigger) {
	reselect := t.dataPlaneBad || c.o.check == nil
	if !reselect && !c.alive(w) {
		reselect = true
	}
	if w.ctx.Err() != nil {
		return
	}
	how := "requesting it again on the same path"
	if reselect {
		how = "reselecting"
	}
	w.logger.Warnf("connection broken (%s): %s", t.why, how)
	delay := c.o.minBackoff
	for attempt := 1; ; attempt++ {
		if attempt > 1 && !reselect && !c.alive(w) {
			if w.ctx.Err() != nil {
				return
			}
			w.logger.Warn("the data plane died while healing: reselecting")
			reselect = true
		}
		if r, ok := w.cc.(backoffResetter); ok {
			r.ResetConnectBackoff()
		}
		opts := []begin.Option{begin.CancelContext(w.ctx)}
		if reselect {
			opts = append(opts, begin.WithReselect())
			st.mu.Lock()
			st.reselecting = w
			st.mu.Unlock()
		}
		var err error
		select {
		case err = <-events.Request(opts...):
		case <-w.ctx.Done():
			// Ended by a Request that healed the connection, by Close or by
			// the chain's end; a queued event is cancelled with w.ctx.
		}
		if reselect {
			st.mu.Lock()
			if st.reselecting == w {
				st.reselecting = nil
			}
			st.mu.Unlock()
		}
		switch {
		case w.ctx.Err() != nil, err == nil, errors.Is(err, begin.ErrClosed):
			return
		}
		pause := time.Duration(float64(delay) * (0.8 + 0.4*rand.Float64())) //nolint:gosec // timing jitter, not security
		w.logger.Debugf("heal attempt %d failed, next in %s: %v", attempt, pause.Round(time.Millisecond), err)
		timer := time.NewTimer(pause)
		select {
		case <-w.ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		delay = min(2*delay, c.o.maxBackoff)
	}
}

var _ networkservice.NetworkServiceClient = (*client)(nil)
