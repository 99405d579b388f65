// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package timeout_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
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
	"github.com/nsmesh/nsmesh/sdk/networkservice/timeout"
	"github.com/nsmesh/nsmesh/sdk/networkservice/updatepath"
	"github.com/nsmesh/nsmesh/sdk/networkservice/updatetoken"
	"github.com/nsmesh/nsmesh/sdk/tools/fakes"
	"github.com/nsmesh/nsmesh/sdk/tools/log"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeClock stands still and fires timers only when told.
type fakeClock struct {
	now    time.Time
	mu     sync.Mutex
	timers []*fakeTimer
}

type fakeTimer struct {
	d       time.Duration
	f       func()
	stopped atomic.Bool
}

func (t *fakeTimer) Stop() bool { return !t.stopped.Swap(true) }

// fire runs the timer's function as the runtime would, unless stopped.
func (t *fakeTimer) fire() {
	if !t.stopped.Swap(true) {
		t.f()
	}
}

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) AfterFunc(d time.Duration, f func()) timeout.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{d: d, f: f}
	c.timers = append(c.timers, t)
	return t
}

func (c *fakeClock) all() []*fakeTimer {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*fakeTimer(nil), c.timers...)
}

// endpoint counts calls and fails Requests on demand.
type endpoint struct {
	requests, closes atomic.Int32
	fail             atomic.Bool
	closed           chan struct{}
}

func newEndpoint() *endpoint { return &endpoint{closed: make(chan struct{}, 10)} }

func (e *endpoint) Request(_ context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	e.requests.Add(1)
	if e.fail.Load() {
		return nil, errors.New("endpoint fails")
	}
	return req.GetConnection(), nil
}

func (e *endpoint) Close(context.Context, *networkservice.Connection) (*emptypb.Empty, error) {
	e.closes.Add(1)
	e.closed <- struct{}{}
	return &emptypb.Empty{}, nil
}

// request is what the caller at index 0 sends to this hop (index 1).
func request(expires time.Time) *networkservice.NetworkServiceRequest {
	prev := &networkservice.PathSegment{Name: "nsc", Id: "nsc-id"}
	if !expires.IsZero() {
		prev.Expires = timestamppb.New(expires)
	}
	return &networkservice.NetworkServiceRequest{Connection: &networkservice.Connection{
		Id: "nse-id",
		Path: &networkservice.Path{Index: 1, PathSegments: []*networkservice.PathSegment{
			prev, {Name: "nse", Id: "nse-id"},
		}},
	}}
}

func near(got, want time.Duration) bool {
	diff := got - want
	return diff > -time.Second && diff < time.Second
}

func TestArming(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	exp := now.Add(10 * time.Minute)
	tests := []struct {
		name     string
		deadline time.Duration // 0: none
		margin   time.Duration
		wantD    time.Duration
	}{
		{name: "deadline: fire a request timeout before expiry", deadline: 5 * time.Second, margin: time.Hour, wantD: 10*time.Minute - 5*time.Second},
		{name: "no deadline: default margin", margin: -1, wantD: 10*time.Minute - timeout.DefaultMargin},
		{name: "no deadline: margin", margin: 3 * time.Second, wantD: 10*time.Minute - 3*time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := &fakeClock{now: now}
			opts := []timeout.Option{timeout.WithClock(clock)}
			if tt.margin >= 0 {
				opts = append(opts, timeout.WithMargin(tt.margin))
			}
			ep := newEndpoint()
			srv := chain.NewServer(begin.NewServer(), timeout.NewServer(context.Background(), opts...), ep)
			ctx := context.Background()
			if tt.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.deadline)
				defer cancel()
			}
			if _, err := srv.Request(ctx, request(exp)); err != nil {
				t.Fatal(err)
			}
			timers := clock.all()
			if len(timers) != 1 {
				t.Fatalf("%d timers armed", len(timers))
			}
			if !near(timers[0].d, tt.wantD) {
				t.Errorf("timer due in %s, want %s", timers[0].d, tt.wantD)
			}
			if _, err := srv.Close(context.Background(), request(exp).GetConnection()); err != nil {
				t.Fatal(err)
			}
			if !timers[0].stopped.Load() {
				t.Error("Close left the timer armed")
			}
		})
	}
}

func TestFireClosesOnce(t *testing.T) {
	clock := &fakeClock{now: time.Now()}
	ep := newEndpoint()
	b := begin.NewServer()
	srv := chain.NewServer(b, timeout.NewServer(context.Background(), timeout.WithClock(clock), timeout.WithLogger(log.Discard())), ep)
	if _, err := srv.Request(context.Background(), request(clock.now.Add(time.Minute))); err != nil {
		t.Fatal(err)
	}
	clock.all()[0].fire()
	if got := ep.closes.Load(); got != 1 {
		t.Fatalf("closes after firing = %d, want 1", got)
	}
	if b.Len() != 0 {
		t.Errorf("begin still holds %d connections", b.Len())
	}
	// The caller's own Close afterwards does not reach the endpoint again.
	if _, err := srv.Close(context.Background(), request(time.Time{}).GetConnection()); err != nil {
		t.Fatal(err)
	}
	if got := ep.closes.Load(); got != 1 {
		t.Errorf("closes = %d, want 1", got)
	}
}

func TestRefresh(t *testing.T) {
	clock := &fakeClock{now: time.Now()}
	ep := newEndpoint()
	srv := chain.NewServer(begin.NewServer(), timeout.NewServer(context.Background(), timeout.WithClock(clock), timeout.WithMargin(0)), ep)
	ctx := context.Background()
	if _, err := srv.Request(ctx, request(clock.now.Add(time.Minute))); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Request(ctx, request(clock.now.Add(2*time.Minute))); err != nil {
		t.Fatal(err)
	}
	timers := clock.all()
	if len(timers) != 2 || !timers[0].stopped.Load() || timers[1].stopped.Load() || timers[1].d != 2*time.Minute {
		t.Fatalf("after refresh: %d timers, first stopped %v, second stopped %v due %s",
			len(timers), timers[0].stopped.Load(), timers[1].stopped.Load(), timers[1].d)
	}
	// A failed refresh keeps the armed timer.
	ep.fail.Store(true)
	if _, err := srv.Request(ctx, request(clock.now.Add(3*time.Minute))); err == nil {
		t.Fatal("refresh did not fail")
	}
	timers = clock.all()
	if len(timers) != 2 || timers[1].stopped.Load() {
		t.Fatalf("failed refresh changed the timer: %d timers, stopped %v", len(timers), timers[1].stopped.Load())
	}
	timers[1].fire()
	if ep.closes.Load() != 1 {
		t.Errorf("closes = %d", ep.closes.Load())
	}
}

// A timer that fires while a refresh holds the connection must not close the
// freshly refreshed connection.
func TestFireDuringRefresh(t *testing.T) {
	clock := &fakeClock{now: time.Now()}
	gate := &gated{endpoint: newEndpoint(), entered: make(chan struct{}), release: make(chan struct{})}
	srv := chain.NewServer(begin.NewServer(), timeout.NewServer(context.Background(), timeout.WithClock(clock)), gate)
	ctx := context.Background()
	if _, err := srv.Request(ctx, request(clock.now.Add(time.Minute))); err != nil {
		t.Fatal(err)
	}
	gate.block.Store(true)
	done := make(chan error)
	go func() {
		_, err := srv.Request(ctx, request(clock.now.Add(2*time.Minute)))
		done <- err
	}()
	<-gate.entered
	fired := make(chan struct{})
	go func() { clock.all()[0].f(); close(fired) }() // fires despite the refresh in progress
	close(gate.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	<-fired
	if got := gate.closes.Load(); got != 0 {
		t.Fatalf("stale timer closed the refreshed connection (%d closes)", got)
	}
}

type gated struct {
	*endpoint
	block   atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func (g *gated) Request(ctx context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	if g.block.Load() {
		close(g.entered)
		<-g.release
	}
	return g.endpoint.Request(ctx, req)
}

func TestRefused(t *testing.T) {
	clock := &fakeClock{now: time.Now()}
	tests := []struct {
		name     string
		noBegin  bool
		req      *networkservice.NetworkServiceRequest
		fail     bool
		wantCode codes.Code
		wantErr  bool
	}{
		{name: "no begin", noBegin: true, req: request(clock.now.Add(time.Minute)), wantCode: codes.Internal, wantErr: true},
		{name: "previous segment without expiry", req: request(time.Time{}), wantCode: codes.InvalidArgument, wantErr: true},
		{name: "initial request fails", req: request(clock.now.Add(time.Minute)), fail: true, wantCode: codes.Unknown, wantErr: true},
		{name: "first hop: nothing to time out against", req: &networkservice.NetworkServiceRequest{Connection: &networkservice.Connection{
			Id: "a", Path: &networkservice.Path{PathSegments: []*networkservice.PathSegment{{Name: "nse", Id: "a"}}},
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock.timers = nil
			ep := newEndpoint()
			ep.fail.Store(tt.fail)
			var b networkservice.NetworkServiceServer = begin.NewServer()
			if tt.noBegin {
				b = nil
			}
			srv := chain.NewServer(b, timeout.NewServer(context.Background(), timeout.WithClock(clock)), ep)
			_, err := srv.Request(context.Background(), tt.req)
			if (err != nil) != tt.wantErr || status.Code(err) != tt.wantCode {
				t.Fatalf("err = %v, want code %v", err, tt.wantCode)
			}
			if len(clock.all()) != 0 {
				t.Error("a timer was armed")
			}
			if tt.wantCode != codes.Unknown && tt.wantCode != codes.OK && ep.requests.Load() != 0 {
				t.Error("refused request reached the endpoint")
			}
		})
	}
}

func TestChainContextEnds(t *testing.T) {
	clock := &fakeClock{now: time.Now()}
	ep := newEndpoint()
	ctx, cancel := context.WithCancel(context.Background())
	srv := chain.NewServer(begin.NewServer(), timeout.NewServer(ctx, timeout.WithClock(clock)), ep)
	if _, err := srv.Request(context.Background(), request(clock.now.Add(time.Minute))); err != nil {
		t.Fatal(err)
	}
	cancel()
	clock.all()[0].fire()
	if ep.closes.Load() != 0 {
		t.Error("timer closed after the chain ended")
	}
}

// wire ends a client chain in a server in process.
type wire struct {
	s networkservice.NetworkServiceServer
}

func (w *wire) Request(ctx context.Context, req *networkservice.NetworkServiceRequest, _ ...grpc.CallOption) (*networkservice.Connection, error) {
	c, err := w.s.Request(ctx, req.Clone())
	return c.Clone(), err
}

func (w *wire) Close(ctx context.Context, c *networkservice.Connection, _ ...grpc.CallOption) (*emptypb.Empty, error) {
	return w.s.Close(ctx, c.Clone())
}

// Real clock, real tokens: a client whose token runs out without refresh is
// closed by the server, once, and leaves nothing behind.
func TestExpiredClientTokenCloses(t *testing.T) {
	ca, err := fakes.NewSPIFFECA("test.com")
	if err != nil {
		t.Fatal(err)
	}
	nscID, err := ca.Issue("spiffe://test.com/nsc", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	nseID, err := ca.Issue("spiffe://test.com/nse", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	// Tokens have whole seconds: this one lives at most 1 s.
	nscGen, err := nscID.Generator(time.Second)
	if err != nil {
		t.Fatal(err)
	}
	nseGen, err := nseID.Generator(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ep := newEndpoint()
	b := begin.NewServer()
	nse := chain.NewServer(updatepath.NewServer("nse"), b, updatetoken.NewServer(nseGen),
		timeout.NewServer(context.Background(), timeout.WithMargin(0), timeout.WithLogger(log.Discard())), ep)
	nsc := chain.NewClient(updatepath.NewClient("nsc"), updatetoken.NewClient(nscGen), &wire{nse})
	start := time.Now()
	if _, err := nsc.Request(context.Background(), &networkservice.NetworkServiceRequest{Connection: &networkservice.Connection{}}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ep.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("server did not close the expired connection")
	}
	if waited := time.Since(start); waited > 1500*time.Millisecond {
		t.Errorf("closed after %s, the token lived at most 1 s", waited)
	}
	if b.Len() != 0 {
		t.Errorf("begin holds %d connections", b.Len())
	}
	time.Sleep(100 * time.Millisecond)
	if ep.closes.Load() != 1 {
		t.Errorf("closes = %d, want 1", ep.closes.Load())
	}
}
