// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package refresh_test

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/core/begin"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/networkservice/refresh"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// clock is a manual Clock: Advance runs the due functions synchronously,
// in deadline order, so that a test sees their effects when it returns.
type clock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*timer
}

type timer struct {
	c       *clock
	at      time.Time
	f       func()
	stopped bool
}

func (t *timer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.stopped
	t.stopped = true
	return was
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) AfterFunc(d time.Duration, f func()) refresh.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &timer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

// pending returns the delays of the live timers.
func (c *clock) pending() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []time.Duration
	for _, t := range c.timers {
		if !t.stopped {
			out = append(out, t.at.Sub(c.now))
		}
	}
	return out
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	target := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		sort.Slice(c.timers, func(i, j int) bool { return c.timers[i].at.Before(c.timers[j].at) })
		var due *timer
		for _, t := range c.timers {
			if !t.stopped && !t.at.After(target) {
				due = t
				break
			}
		}
		if due == nil {
			c.now = target
			c.mu.Unlock()
			return
		}
		due.stopped = true
		c.now = due.at
		c.mu.Unlock()
		due.f()
	}
}

// nse stands for the rest of the path: it stamps every segment with an
// expiry a lifetime from now and counts Requests.
type nse struct {
	clk      *clock
	lifetime time.Duration
	mu       sync.Mutex
	requests int
	fail     bool
	noExpiry bool
}

func (e *nse) Request(_ context.Context, req *networkservice.NetworkServiceRequest, _ ...grpc.CallOption) (*networkservice.Connection, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.requests++
	if e.fail {
		return nil, status.Error(codes.Unavailable, "nsmgr restarting")
	}
	conn := req.GetConnection().Clone()
	if !e.noExpiry {
		for _, s := range conn.GetPath().GetPathSegments() {
			s.Expires = timestamppb.New(e.clk.Now().Add(e.lifetime))
		}
	}
	return conn, nil
}

func (e *nse) Close(context.Context, *networkservice.Connection, ...grpc.CallOption) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func (e *nse) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.requests
}

func (e *nse) setFail(v bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.fail = v
}

func request(segments int, index uint32) *networkservice.NetworkServiceRequest {
	p := &networkservice.Path{Index: index}
	for i := 0; i < segments; i++ {
		p.PathSegments = append(p.PathSegments, &networkservice.PathSegment{Name: "hop", Id: "id"})
	}
	return &networkservice.NetworkServiceRequest{Connection: &networkservice.Connection{Id: "c1", Path: p}}
}

func TestAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	seg := func(in time.Duration) *networkservice.PathSegment {
		return &networkservice.PathSegment{Expires: timestamppb.New(now.Add(in))}
	}
	tests := []struct {
		name   string
		path   *networkservice.Path
		want   time.Duration
		wantOK bool
	}{
		{name: "client of a 4-hop path refreshes at a fifth", path: &networkservice.Path{PathSegments: []*networkservice.PathSegment{seg(10 * time.Minute), seg(10 * time.Minute), seg(10 * time.Minute), seg(10 * time.Minute)}}, want: 2 * time.Minute, wantOK: true},
		{name: "single segment at a third", path: &networkservice.Path{PathSegments: []*networkservice.PathSegment{seg(9 * time.Minute)}}, want: 3 * time.Minute, wantOK: true},
		{name: "later hops scale up", path: &networkservice.Path{Index: 2, PathSegments: []*networkservice.PathSegment{seg(10 * time.Minute), seg(10 * time.Minute), seg(10 * time.Minute), seg(10 * time.Minute)}}, want: 3 * time.Minute, wantOK: true},
		{name: "earliest expiry wins", path: &networkservice.Path{PathSegments: []*networkservice.PathSegment{seg(10 * time.Minute), seg(5 * time.Minute)}}, want: time.Minute, wantOK: true},
		{name: "segments without expiry are ignored", path: &networkservice.Path{PathSegments: []*networkservice.PathSegment{{}, seg(10 * time.Minute)}}, want: 2 * time.Minute, wantOK: true},
		{name: "already expired: now", path: &networkservice.Path{PathSegments: []*networkservice.PathSegment{seg(-time.Minute)}}, want: 0, wantOK: true},
		{name: "no expiry at all", path: &networkservice.Path{PathSegments: []*networkservice.PathSegment{{}}}, wantOK: false},
		{name: "no path", wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := refresh.After(&networkservice.Connection{Path: tt.path}, now)
			if ok != tt.wantOK || got != tt.want {
				t.Fatalf("After = %s, %v; want %s, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

type env struct {
	clk    *clock
	nse    *nse
	client networkservice.NetworkServiceClient
	cancel context.CancelFunc
}

func newEnv(t *testing.T) *env {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	e := &env{clk: clk, nse: &nse{clk: clk, lifetime: 10 * time.Minute}, cancel: cancel}
	e.client = chain.NewClient(begin.NewClient(nil), refresh.NewClient(ctx, refresh.WithClock(clk)), e.nse)
	return e
}

func TestRefreshes(t *testing.T) {
	e := newEnv(t)
	if _, err := e.client.Request(context.Background(), request(4, 0)); err != nil {
		t.Fatal(err)
	}
	if p := e.clk.pending(); len(p) != 1 || p[0] != 2*time.Minute {
		t.Fatalf("pending %v, want one refresh in 2m", p)
	}
	e.clk.Advance(2*time.Minute - time.Second)
	if e.nse.count() != 1 {
		t.Fatal("refreshed early")
	}
	for i := 2; i <= 4; i++ {
		e.clk.Advance(2 * time.Minute)
		if got := e.nse.count(); got != i {
			t.Fatalf("after %d periods: %d requests, want %d", i-1, got, i)
		}
	}
	if p := e.clk.pending(); len(p) != 1 {
		t.Fatalf("%d refreshes pending, want exactly 1", len(p))
	}
}

func TestRetryUntilSuccess(t *testing.T) {
	e := newEnv(t)
	if _, err := e.client.Request(context.Background(), request(4, 0)); err != nil {
		t.Fatal(err)
	}
	e.nse.setFail(true)
	e.clk.Advance(2 * time.Minute) // the refresh fails
	for i := 0; i < 5; i++ {
		p := e.clk.pending()
		if len(p) != 1 || p[0] < 160*time.Millisecond || p[0] > 240*time.Millisecond {
			t.Fatalf("retry pending %v, want one in 200ms ±20%%", p)
		}
		e.clk.Advance(p[0]) // exactly to the retry, so the next delay is fresh
	}
	if got := e.nse.count(); got != 7 { // initial, refresh, 5 retries
		t.Fatalf("%d requests, want 7", got)
	}
	e.nse.setFail(false)
	e.clk.Advance(e.clk.pending()[0])
	if got := e.nse.count(); got != 8 {
		t.Fatalf("%d requests, want 8", got)
	}
	if p := e.clk.pending(); len(p) != 1 || p[0] != 2*time.Minute {
		t.Fatalf("after recovery pending %v, want the next refresh in 2m", p)
	}
}

func TestCloseCancels(t *testing.T) {
	tests := []struct {
		name   string
		failed bool // close while retrying
	}{
		{name: "pending refresh"},
		{name: "retry loop", failed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			if _, err := e.client.Request(context.Background(), request(4, 0)); err != nil {
				t.Fatal(err)
			}
			if tt.failed {
				e.nse.setFail(true)
				e.clk.Advance(2 * time.Minute)
			}
			before := e.nse.count()
			if _, err := e.client.Close(context.Background(), request(4, 0).GetConnection()); err != nil {
				t.Fatal(err)
			}
			e.clk.Advance(time.Hour)
			if got := e.nse.count(); got != before {
				t.Fatalf("%d Requests after Close", got-before)
			}
			if p := e.clk.pending(); len(p) != 0 {
				t.Fatalf("timers left after Close: %v", p)
			}
		})
	}
}

func TestChainContextEndStopsRefresh(t *testing.T) {
	e := newEnv(t)
	if _, err := e.client.Request(context.Background(), request(4, 0)); err != nil {
		t.Fatal(err)
	}
	e.cancel()
	e.clk.Advance(time.Hour)
	if got := e.nse.count(); got != 1 {
		t.Fatalf("%d refreshes after the chain's context ended", got-1)
	}
}

func TestNoExpiryNoRefresh(t *testing.T) {
	e := newEnv(t)
	e.nse.noExpiry = true
	if _, err := e.client.Request(context.Background(), request(4, 0)); err != nil {
		t.Fatal(err)
	}
	if p := e.clk.pending(); len(p) != 0 {
		t.Fatalf("refresh scheduled without expiry: %v", p)
	}
}

func TestFailedUserRefreshKeepsSchedule(t *testing.T) {
	e := newEnv(t)
	if _, err := e.client.Request(context.Background(), request(4, 0)); err != nil {
		t.Fatal(err)
	}
	e.nse.setFail(true)
	if _, err := e.client.Request(context.Background(), request(4, 0)); err == nil {
		t.Fatal("want failure")
	}
	if p := e.clk.pending(); len(p) != 1 {
		t.Fatalf("pending %v, want the original refresh kept", p)
	}
}

func TestRealClock(t *testing.T) {
	// Short real durations: a 300ms lifetime on one segment refreshes every 100ms.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	real := &realNow{}
	client := chain.NewClient(begin.NewClient(nil), refresh.NewClient(ctx), &stamp{inner: real, lifetime: 300 * time.Millisecond})
	if _, err := client.Request(ctx, request(1, 0)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for real.count() < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d requests in 5s", real.count())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := client.Close(ctx, request(1, 0).GetConnection()); err != nil {
		t.Fatal(err)
	}
	n := real.count()
	time.Sleep(300 * time.Millisecond)
	if real.count() != n {
		t.Fatal("refreshed after Close")
	}
}

type realNow struct {
	mu sync.Mutex
	n  int
}

func (r *realNow) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// stamp is an endpoint on the system clock.
type stamp struct {
	inner    *realNow
	lifetime time.Duration
}

func (s *stamp) Request(_ context.Context, req *networkservice.NetworkServiceRequest, _ ...grpc.CallOption) (*networkservice.Connection, error) {
	s.inner.mu.Lock()
	s.inner.n++
	s.inner.mu.Unlock()
	conn := req.GetConnection().Clone()
	for _, seg := range conn.GetPath().GetPathSegments() {
		seg.Expires = timestamppb.New(time.Now().Add(s.lifetime))
	}
	return conn, nil
}

func (s *stamp) Close(context.Context, *networkservice.Connection, ...grpc.CallOption) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}
