// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package dial_test

import (
	"context"
	"net"
	"net/url"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/core/begin"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/networkservice/connect"
	"github.com/nsmesh/nsmesh/sdk/networkservice/dial"
	"github.com/nsmesh/nsmesh/sdk/tools/clienturlctx"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// endpoint is a NetworkService server that counts calls.
type endpoint struct {
	mu       sync.Mutex
	requests int
	closes   int
	fail     error
}

func (e *endpoint) Request(_ context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.requests++
	if e.fail != nil {
		return nil, e.fail
	}
	return req.GetConnection(), nil
}

func (e *endpoint) Close(context.Context, *networkservice.Connection) (*emptypb.Empty, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closes++
	return &emptypb.Empty{}, nil
}

func (e *endpoint) counts() (int, int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.requests, e.closes
}

func serve(t *testing.T, e *endpoint) *url.URL {
	t.Helper()
	path := filepath.Join(t.TempDir(), "nse.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	networkservice.RegisterNetworkServiceServer(s, e)
	go func() { _ = s.Serve(l) }()
	t.Cleanup(s.Stop)
	return &url.URL{Scheme: "unix", Path: path}
}

// target sets the URL held in u on every call, like a selection element.
type target struct {
	chain.ClientLink
	mu sync.Mutex
	u  *url.URL
}

func (t *target) set(u *url.URL) { t.mu.Lock(); t.u = u; t.mu.Unlock() }

func (t *target) ctx(ctx context.Context) context.Context {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.u == nil {
		return ctx
	}
	return clienturlctx.WithClientURL(ctx, t.u)
}

func (t *target) Request(ctx context.Context, req *networkservice.NetworkServiceRequest, opts ...grpc.CallOption) (*networkservice.Connection, error) {
	return t.Next().Request(t.ctx(ctx), req, opts...)
}

func (t *target) Close(ctx context.Context, conn *networkservice.Connection, opts ...grpc.CallOption) (*emptypb.Empty, error) {
	return t.Next().Close(t.ctx(ctx), conn, opts...)
}

// spy remembers every conn it saw in metadata.
type spy struct {
	chain.ClientLink
	mu    sync.Mutex
	conns []*grpc.ClientConn
}

func (s *spy) grab(ctx context.Context) {
	if cc, ok := dial.ClientConn(ctx); ok {
		if c, ok := cc.(*grpc.ClientConn); ok {
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
		}
	}
}

func (s *spy) Request(ctx context.Context, req *networkservice.NetworkServiceRequest, opts ...grpc.CallOption) (*networkservice.Connection, error) {
	s.grab(ctx)
	return s.Next().Request(ctx, req, opts...)
}

func (s *spy) Close(ctx context.Context, conn *networkservice.Connection, opts ...grpc.CallOption) (*emptypb.Empty, error) {
	s.grab(ctx)
	return s.Next().Close(ctx, conn, opts...)
}

func (s *spy) all() []*grpc.ClientConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*grpc.ClientConn(nil), s.conns...)
}

type harness struct {
	begin  *begin.Client
	target *target
	spy    *spy
	client networkservice.NetworkServiceClient
}

func newHarness(u *url.URL, opts ...dial.Option) *harness {
	h := &harness{begin: begin.NewClient(nil), target: &target{u: u}, spy: &spy{}}
	opts = append([]dial.Option{dial.WithDialOptions(grpc.WithTransportCredentials(insecure.NewCredentials()))}, opts...)
	h.client = chain.NewClient(h.begin, h.target, dial.NewClient(opts...), h.spy, connect.NewClient())
	return h
}

func request(id string) *networkservice.NetworkServiceRequest {
	return &networkservice.NetworkServiceRequest{Connection: &networkservice.Connection{Id: id, NetworkService: "ns"}}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestDialRequestAndClose(t *testing.T) {
	e := &endpoint{}
	h := newHarness(serve(t, e), dial.WithDialTimeout(5*time.Second))
	ctx := ctxT(t)

	for i := 0; i < 3; i++ { // first Request, then two refreshes
		if _, err := h.client.Request(ctx, request("c1")); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	conns := h.spy.all()
	if len(conns) != 3 || conns[0] != conns[1] || conns[1] != conns[2] {
		t.Fatalf("refreshes must reuse the conn; saw %d conns %v", len(conns), conns)
	}
	if _, err := h.client.Close(ctx, request("c1").GetConnection()); err != nil {
		t.Fatal(err)
	}
	if r, c := e.counts(); r != 3 || c != 1 {
		t.Fatalf("endpoint saw %d requests, %d closes; want 3, 1", r, c)
	}
	if s := conns[0].GetState(); s != connectivity.Shutdown {
		t.Fatalf("conn state after Close = %s, want SHUTDOWN", s)
	}
	if h.begin.Len() != 0 {
		t.Fatal("begin still holds the connection")
	}
}

func TestDialFailures(t *testing.T) {
	dead := &url.URL{Scheme: "unix", Path: filepath.Join(t.TempDir(), "nobody-listens.sock")}
	tests := []struct {
		name     string
		u        *url.URL
		fail     error
		opts     []dial.Option
		noCreds  bool
		wantCode codes.Code
		maxTime  time.Duration
	}{
		{name: "dead target fails fast with a timeout", u: dead, opts: []dial.Option{dial.WithDialTimeout(5 * time.Second)}, wantCode: codes.Unavailable, maxTime: 2 * time.Second},
		{name: "dead target without timeout fails on the RPC", u: dead, wantCode: codes.Unavailable, maxTime: 5 * time.Second},
		{name: "no URL in context", u: nil, wantCode: codes.Internal, maxTime: time.Second},
		{name: "first request refused downstream", fail: status.Error(codes.PermissionDenied, "no"), opts: []dial.Option{dial.WithDialTimeout(5 * time.Second)}, wantCode: codes.PermissionDenied, maxTime: 5 * time.Second},
		{name: "dial options gRPC refuses", u: dead, noCreds: true, wantCode: codes.InvalidArgument, maxTime: time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := tt.u
			if tt.fail != nil {
				u = serve(t, &endpoint{fail: tt.fail})
			}
			h := newHarness(u, tt.opts...)
			if tt.noCreds {
				h.client = chain.NewClient(begin.NewClient(nil), &target{u: u}, dial.NewClient(), connect.NewClient())
			}
			start := time.Now()
			_, err := h.client.Request(ctxT(t), request("c1"))
			if got := status.Code(err); got != tt.wantCode {
				t.Fatalf("code = %s (%v), want %s", got, err, tt.wantCode)
			}
			if d := time.Since(start); d > tt.maxTime {
				t.Fatalf("took %s, want under %s", d, tt.maxTime)
			}
			for _, cc := range h.spy.all() {
				if s := cc.GetState(); s != connectivity.Shutdown {
					t.Fatalf("conn left in state %s after a failed first Request", s)
				}
			}
			if h.begin.Len() != 0 {
				t.Fatal("begin still holds the connection")
			}
		})
	}
}

func TestDialRefreshFailureKeepsConn(t *testing.T) {
	e := &endpoint{}
	h := newHarness(serve(t, e), dial.WithDialTimeout(5*time.Second))
	ctx := ctxT(t)
	if _, err := h.client.Request(ctx, request("c1")); err != nil {
		t.Fatal(err)
	}
	e.mu.Lock()
	e.fail = status.Error(codes.Internal, "boom")
	e.mu.Unlock()
	if _, err := h.client.Request(ctx, request("c1")); err == nil {
		t.Fatal("refresh should fail")
	}
	conns := h.spy.all()
	if s := conns[0].GetState(); s == connectivity.Shutdown {
		t.Fatal("a failed refresh closed the conn")
	}
	e.mu.Lock()
	e.fail = nil
	e.mu.Unlock()
	if _, err := h.client.Request(ctx, request("c1")); err != nil {
		t.Fatal(err)
	}
	if got := h.spy.all(); got[len(got)-1] != conns[0] {
		t.Fatal("refresh after a failure redialled")
	}
	if _, err := h.client.Close(ctx, request("c1").GetConnection()); err != nil {
		t.Fatal(err)
	}
}

func TestDialURLChangeClosesOldPath(t *testing.T) {
	oldEP, newEP := &endpoint{}, &endpoint{}
	oldURL, newURL := serve(t, oldEP), serve(t, newEP)
	h := newHarness(oldURL, dial.WithDialTimeout(5*time.Second))
	ctx := ctxT(t)
	if _, err := h.client.Request(ctx, request("c1")); err != nil {
		t.Fatal(err)
	}
	h.target.set(newURL)
	if _, err := h.client.Request(ctx, request("c1")); err != nil {
		t.Fatal(err)
	}
	if r, c := oldEP.counts(); r != 1 || c != 1 {
		t.Fatalf("old endpoint: %d requests, %d closes; want 1, 1", r, c)
	}
	if r, c := newEP.counts(); r != 1 || c != 0 {
		t.Fatalf("new endpoint: %d requests, %d closes; want 1, 0", r, c)
	}
	conns := h.spy.all()
	if s := conns[0].GetState(); s != connectivity.Shutdown {
		t.Fatalf("old conn state = %s, want SHUTDOWN", s)
	}
	if _, err := h.client.Close(ctx, request("c1").GetConnection()); err != nil {
		t.Fatal(err)
	}
	if _, c := newEP.counts(); c != 1 {
		t.Fatal("Close did not reach the new endpoint")
	}
}

func TestDialNeedsBegin(t *testing.T) {
	u := serve(t, &endpoint{})
	cli := chain.NewClient(&target{u: u}, dial.NewClient(dial.WithDialOptions(grpc.WithTransportCredentials(insecure.NewCredentials()))), connect.NewClient())
	_, err := cli.Request(ctxT(t), request("c1"))
	if status.Code(err) != codes.Internal {
		t.Fatalf("want Internal without begin, got %v", err)
	}
}

func TestFixedClient(t *testing.T) {
	e := &endpoint{}
	u := serve(t, e)
	cc, err := grpc.NewClient(u.String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cc.Close() }()
	cli := chain.NewClient(begin.NewClient(nil), dial.NewFixedClient(cc), dial.NewClient(), connect.NewClient())
	ctx := ctxT(t)
	if _, err := cli.Request(ctx, request("c1")); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Close(ctx, request("c1").GetConnection()); err != nil {
		t.Fatal(err)
	}
	if r, c := e.counts(); r != 1 || c != 1 {
		t.Fatalf("endpoint: %d requests, %d closes; want 1, 1", r, c)
	}
	if s := cc.GetState(); s == connectivity.Shutdown {
		t.Fatal("the chain closed an injected conn")
	}
}

// When the chain's context ends (the process stops), conns of connections
// that were never closed are closed too.
func TestDialContextEndClosesHeldConns(t *testing.T) {
	e := &endpoint{}
	chainCtx, stop := context.WithCancel(context.Background())
	h := newHarness(serve(t, e), dial.WithContext(chainCtx), dial.WithDialTimeout(5*time.Second))
	if _, err := h.client.Request(ctxT(t), request("held")); err != nil {
		t.Fatal(err)
	}
	cc := h.spy.all()[0]
	stop()
	deadline := time.Now().Add(5 * time.Second)
	for cc.GetState() != connectivity.Shutdown && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if s := cc.GetState(); s != connectivity.Shutdown {
		t.Fatalf("conn state after the chain context ended = %s, want SHUTDOWN", s)
	}
	if _, err := h.client.Request(ctxT(t), request("late")); err == nil {
		t.Fatal("a new dial after the context ended succeeded")
	}
}

// events captures the connection's begin events from inside the chain.
type events struct {
	chain.ClientLink
	mu sync.Mutex
	f  begin.EventFactory
}

func (e *events) Request(ctx context.Context, req *networkservice.NetworkServiceRequest, opts ...grpc.CallOption) (*networkservice.Connection, error) {
	e.mu.Lock()
	e.f = begin.FromContext(ctx)
	e.mu.Unlock()
	return e.Next().Request(ctx, req, opts...)
}

func (e *events) Close(ctx context.Context, conn *networkservice.Connection, opts ...grpc.CallOption) (*emptypb.Empty, error) {
	return e.Next().Close(ctx, conn, opts...)
}

// A reselect closes the old path (and its conn); when the new Request fails,
// the connection stays established at begin and its Close must still reach
// the next hop.
func TestDialCloseAfterFailedReselect(t *testing.T) {
	e := &endpoint{}
	u := serve(t, e)
	ev := &events{}
	s := &spy{}
	cli := chain.NewClient(begin.NewClient(nil), &target{u: u}, ev,
		dial.NewClient(dial.WithDialOptions(grpc.WithTransportCredentials(insecure.NewCredentials()))), s, connect.NewClient())
	ctx := ctxT(t)
	if _, err := cli.Request(ctx, request("c1")); err != nil {
		t.Fatal(err)
	}
	e.mu.Lock()
	e.fail = status.Error(codes.Unavailable, "no endpoint")
	e.mu.Unlock()
	ev.mu.Lock()
	f := ev.f
	ev.mu.Unlock()
	if err := <-f.Request(begin.WithReselect()); err == nil {
		t.Fatal("the reselect should fail")
	}
	if _, err := cli.Close(ctx, request("c1").GetConnection()); err != nil {
		t.Fatalf("close after a failed reselect: %v", err)
	}
	if _, c := e.counts(); c != 2 {
		t.Fatalf("endpoint saw %d closes, want 2 (the reselect's and the caller's)", c)
	}
	for _, cc := range s.all() {
		if st := cc.GetState(); st != connectivity.Shutdown {
			t.Fatalf("conn left in state %s", st)
		}
	}
}

// A next hop that comes back on the same address is used by the next
// Request at once, not after gRPC's reconnect backoff (a second or more).
func TestDialRequestRetriesRestartedHopAtOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nse.sock")
	start := func() *grpc.Server {
		l, err := net.Listen("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		s := grpc.NewServer()
		networkservice.RegisterNetworkServiceServer(s, &endpoint{})
		go func() { _ = s.Serve(l) }()
		return s
	}
	srv := start()
	h := newHarness(&url.URL{Scheme: "unix", Path: path}, dial.WithDialTimeout(time.Second))
	ctx := ctxT(t)
	if _, err := h.client.Request(ctx, request("c1")); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	cc := h.spy.all()[0]
	// Let gRPC fail to reconnect so that it backs off.
	deadline := time.Now().Add(5 * time.Second)
	for cc.GetState() != connectivity.TransientFailure {
		if _, err := h.client.Request(ctx, request("c1")); err == nil {
			t.Fatal("request to a stopped hop succeeded")
		}
		if time.Now().After(deadline) {
			t.Fatalf("conn never reached TRANSIENT_FAILURE (state %s)", cc.GetState())
		}
		time.Sleep(10 * time.Millisecond)
	}
	srv = start()
	t.Cleanup(srv.Stop)
	began := time.Now()
	if _, err := h.client.Request(ctx, request("c1")); err != nil {
		t.Fatalf("request right after the hop came back: %v", err)
	}
	if d := time.Since(began); d > 500*time.Millisecond {
		t.Fatalf("request took %v; gRPC's backoff was not reset", d)
	}
	if _, err := h.client.Close(ctx, request("c1").GetConnection()); err != nil {
		t.Fatal(err)
	}
}
