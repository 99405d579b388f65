// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package heal_test

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/core/begin"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/networkservice/clienturl"
	"github.com/nsmesh/nsmesh/sdk/networkservice/connect"
	"github.com/nsmesh/nsmesh/sdk/networkservice/dial"
	"github.com/nsmesh/nsmesh/sdk/networkservice/heal"
	"github.com/nsmesh/nsmesh/sdk/networkservice/updatepath"
	"github.com/nsmesh/nsmesh/sdk/tools/grpcutils"
)

// hop is a fake nsmgr: it serves Request, Close and MonitorConnections over
// gRPC, records what it gets and lets the test fail Requests and push
// monitor events. A restarted nsmgr is a new hop on the same socket.
type hop struct {
	networkservice.UnimplementedMonitorConnectionServer
	srv  *grpc.Server
	done chan struct{}

	mu       sync.Mutex
	requests []*networkservice.NetworkServiceRequest
	closes   []*networkservice.Connection
	conns    map[string]*networkservice.Connection
	subs     map[chan *networkservice.ConnectionEvent]*networkservice.MonitorScopeSelector
	fail     error
	onReq    func(*networkservice.NetworkServiceRequest)
}

func startHop(t *testing.T, u *url.URL) *hop {
	t.Helper()
	h := &hop{
		srv:   grpc.NewServer(),
		done:  make(chan struct{}),
		conns: make(map[string]*networkservice.Connection),
		subs:  make(map[chan *networkservice.ConnectionEvent]*networkservice.MonitorScopeSelector),
	}
	networkservice.RegisterNetworkServiceServer(h.srv, &hopNS{h})
	networkservice.RegisterMonitorConnectionServer(h.srv, h)
	l, err := grpcutils.Listen(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(h.done)
		_ = h.srv.Serve(l)
	}()
	t.Cleanup(h.kill)
	return h
}

// kill stops the hop at once, breaking every stream.
func (h *hop) kill() {
	h.srv.Stop()
	<-h.done
}

type hopNS struct{ h *hop }

func (s *hopNS) Request(_ context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	h := s.h
	h.mu.Lock()
	h.requests = append(h.requests, req.Clone())
	fail, onReq := h.fail, h.onReq
	h.mu.Unlock()
	if onReq != nil {
		onReq(req)
	}
	if fail != nil {
		return nil, fail
	}
	conn := req.GetConnection().Clone()
	if conn.GetNetworkServiceEndpointName() == "" {
		conn.NetworkServiceEndpointName = "nse-1"
	}
	segs := conn.GetPath().GetPathSegments()
	if len(segs) == 1 {
		conn.Path.PathSegments = append(segs, &networkservice.PathSegment{Name: "nsmgr", Id: "nsmgr-" + conn.GetId()})
	}
	conn.Mechanism = &networkservice.Mechanism{Type: "KERNEL"}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.conns[conn.GetId()] = conn.Clone()
	h.publish(networkservice.ConnectionEventType_UPDATE, conn)
	return conn, nil
}

func (s *hopNS) Close(_ context.Context, conn *networkservice.Connection) (*emptypb.Empty, error) {
	h := s.h
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closes = append(h.closes, conn.Clone())
	if old, ok := h.conns[conn.GetId()]; ok {
		delete(h.conns, conn.GetId())
		h.publish(networkservice.ConnectionEventType_DELETE, old)
	}
	return &emptypb.Empty{}, nil
}

// publish sends an event to the matching subscribers; h.mu is held.
func (h *hop) publish(typ networkservice.ConnectionEventType, conn *networkservice.Connection) {
	for ch, sel := range h.subs {
		if networkservice.MatchesMonitorScopeSelector(conn, sel) {
			select {
			case ch <- &networkservice.ConnectionEvent{Type: typ, Connections: map[string]*networkservice.Connection{conn.GetId(): conn.Clone()}}:
			default:
			}
		}
	}
}

func (h *hop) MonitorConnections(sel *networkservice.MonitorScopeSelector, srv grpc.ServerStreamingServer[networkservice.ConnectionEvent]) error {
	ch := make(chan *networkservice.ConnectionEvent, 64)
	h.mu.Lock()
	initial := map[string]*networkservice.Connection{}
	for id, c := range h.conns {
		if networkservice.MatchesMonitorScopeSelector(c, sel) {
			initial[id] = c.Clone()
		}
	}
	h.subs[ch] = sel
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.subs, ch)
		h.mu.Unlock()
	}()
	if err := srv.Send(&networkservice.ConnectionEvent{Type: networkservice.ConnectionEventType_INITIAL_STATE_TRANSFER, Connections: initial}); err != nil {
		return err
	}
	for {
		select {
		case <-srv.Context().Done():
			return nil
		case ev := <-ch:
			if err := srv.Send(ev); err != nil {
				return err
			}
		}
	}
}

// down reports every connection DOWN, as a hop does when its downstream breaks.
func (h *hop) down() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, c := range h.conns {
		c = c.Clone()
		c.State = networkservice.State_DOWN
		h.conns[id] = c
		h.publish(networkservice.ConnectionEventType_UPDATE, c)
	}
}

func (h *hop) setFail(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fail = err
}

func (h *hop) setOnRequest(f func(*networkservice.NetworkServiceRequest)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.onReq = f
}

func (h *hop) calls() (reqs []*networkservice.NetworkServiceRequest, closes []*networkservice.Connection) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*networkservice.NetworkServiceRequest(nil), h.requests...), append([]*networkservice.Connection(nil), h.closes...)
}

// waitFor polls cond until it holds or fails the test after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// socket returns a unix URL in a fresh short directory.
func socket(t *testing.T) *url.URL {
	t.Helper()
	dir, err := os.MkdirTemp("", "heal-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return &url.URL{Scheme: "unix", Path: filepath.Join(dir, "nsmgr.sock")}
}

// liveness is a controllable data plane check.
type liveness struct {
	alive atomic.Bool
	calls atomic.Int32
}

func newLiveness(alive bool) *liveness {
	l := &liveness{}
	l.alive.Store(alive)
	return l
}

func (l *liveness) check(ctx context.Context, conn *networkservice.Connection) bool {
	l.calls.Add(1)
	if conn == nil || ctx.Err() != nil {
		return false
	}
	return l.alive.Load()
}

// newNSC builds an originating client chain with heal towards u.
func newNSC(t *testing.T, ctx context.Context, u *url.URL, opts ...heal.Option) networkservice.NetworkServiceClient {
	t.Helper()
	h, err := heal.NewClient(ctx, append([]heal.Option{heal.WithBackoff(10*time.Millisecond, 50*time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return chain.NewClient(
		updatepath.NewClient("nsc"),
		begin.NewClient(nil),
		clienturl.NewClient(u),
		h,
		dial.NewClient(dial.WithContext(ctx), dial.WithDialOptions(grpc.WithTransportCredentials(insecure.NewCredentials()))),
		connect.NewClient(),
	)
}

func newRequest() *networkservice.NetworkServiceRequest {
	return &networkservice.NetworkServiceRequest{Connection: &networkservice.Connection{Id: "nsc-0", NetworkService: "red"}}
}
