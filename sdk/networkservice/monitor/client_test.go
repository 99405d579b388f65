// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package monitor_test

import (
	"context"
	"net"
	"net/url"
	"path/filepath"
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
	"github.com/nsmesh/nsmesh/sdk/networkservice/monitor"
)

// fwdPath plays updatepath for the forwarder hop: it adds the forwarder's
// segment and works on its own id and index, restoring the caller's on the
// way back.
type fwdPath struct{ chain.ServerLink }

func (p *fwdPath) enter(c *networkservice.Connection) (prevID string, prevIdx uint32) {
	prevID, prevIdx = c.GetId(), c.GetPath().GetIndex()
	if int(prevIdx)+1 >= len(c.GetPath().GetPathSegments()) {
		c.Path.PathSegments = append(c.Path.PathSegments, &networkservice.PathSegment{Name: "fwd", Id: "fwd-" + prevID})
	}
	c.Path.Index = prevIdx + 1
	c.Id = c.Path.PathSegments[prevIdx+1].GetId()
	return prevID, prevIdx
}

func (p *fwdPath) Request(ctx context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	prevID, prevIdx := p.enter(req.GetConnection())
	out, err := p.Next().Request(ctx, req)
	if err != nil {
		return nil, err
	}
	out.Id, out.Path.Index = prevID, prevIdx
	return out, nil
}

func (p *fwdPath) Close(ctx context.Context, c *networkservice.Connection) (*emptypb.Empty, error) {
	p.enter(c)
	return p.Next().Close(ctx, c)
}

type hops struct {
	fwdMon   *monitor.Server
	fwdChain networkservice.NetworkServiceServer
	fwdStop  func()
	mgrMon   *monitor.Server
	mgrChain networkservice.NetworkServiceServer
}

func newHops(t *testing.T, ctx context.Context, opts ...monitor.Option) *hops {
	t.Helper()
	h := &hops{fwdMon: monitor.NewServer(ctx), mgrMon: monitor.NewServer(ctx)}
	h.fwdChain = chain.NewServer(&fwdPath{}, begin.NewServer(), h.fwdMon)
	path := filepath.Join(t.TempDir(), "fwd.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	networkservice.RegisterNetworkServiceServer(gs, h.fwdChain)
	networkservice.RegisterMonitorConnectionServer(gs, h.fwdMon)
	go func() { _ = gs.Serve(l) }()
	h.fwdStop = gs.Stop
	t.Cleanup(gs.Stop)

	client := chain.NewClient(
		begin.NewClient(nil),
		clienturl.NewClient(&url.URL{Scheme: "unix", Path: path}),
		dial.NewClient(dial.WithDialOptions(grpc.WithTransportCredentials(insecure.NewCredentials())), dial.WithDialTimeout(5*time.Second)),
		monitor.NewClient(ctx, opts...),
		connect.NewClient(),
	)
	h.mgrChain = chain.NewServer(begin.NewServer(), h.mgrMon, connect.NewServer(client))
	return h
}

func mgrConn() *networkservice.Connection { return conn("mgr-1", "red", "nsc-1") }

func TestRelayDownstreamEvents(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := newHops(t, ctx)
	if _, err := h.mgrChain.Request(ctx, &networkservice.NetworkServiceRequest{Connection: mgrConn()}); err != nil {
		t.Fatal(err)
	}
	sub, _ := subscribe(t, h.mgrMon, &networkservice.MonitorScopeSelector{PathSegments: []*networkservice.PathSegment{{Id: "nsc-1"}}}, false)
	if ev := sub.next(t); len(ev.GetConnections()) != 1 {
		t.Fatalf("initial state %v", ev.GetConnections())
	}

	// The forwarder's view changes without the nsmgr being involved.
	c := mgrConn()
	c.Path.PathSegments = append(c.Path.PathSegments, &networkservice.PathSegment{Name: "fwd", Id: "fwd-mgr-1"})
	c.Context = &networkservice.ConnectionContext{IpContext: &networkservice.IPContext{SrcIpAddrs: []string{"10.0.0.2/32"}}}
	if _, err := h.fwdChain.Request(ctx, &networkservice.NetworkServiceRequest{Connection: c}); err != nil {
		t.Fatal(err)
	}
	ev := sub.next(t)
	got := ev.GetConnections()["mgr-1"]
	if ev.GetType() != networkservice.ConnectionEventType_UPDATE || got == nil {
		t.Fatalf("want UPDATE for mgr-1, got %s %v", ev.GetType(), ev.GetConnections())
	}
	if got.GetPath().GetIndex() != 1 || got.GetId() != "mgr-1" || len(got.GetPath().GetPathSegments()) != 3 {
		t.Fatalf("event not in the nsmgr's view: id %s index %d path %v", got.GetId(), got.GetPath().GetIndex(), got.GetPath().GetPathSegments())
	}
	if got.GetContext().GetIpContext().GetSrcIpAddrs()[0] != "10.0.0.2/32" {
		t.Fatal("downstream context not relayed")
	}

	// The forwarder dies: the nsmgr reports the connection DOWN.
	h.fwdStop()
	ev = sub.next(t)
	if got := ev.GetConnections()["mgr-1"]; ev.GetType() != networkservice.ConnectionEventType_UPDATE || got.GetState() != networkservice.State_DOWN {
		t.Fatalf("want UPDATE DOWN, got %s %v", ev.GetType(), ev.GetConnections())
	}
	_, _ = h.mgrChain.Close(ctx, mgrConn()) // the forwarder is gone; only local clean-up matters
	if ev := sub.next(t); ev.GetType() != networkservice.ConnectionEventType_DELETE {
		t.Fatalf("want DELETE after Close, got %s", ev.GetType())
	}
	if h.mgrMon.Len() != 0 {
		t.Fatal("nsmgr monitor still holds the connection")
	}
}

func TestRelayStopsOnClose(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := newHops(t, ctx)
	for i := 0; i < 2; i++ { // a refresh must not start a second stream
		if _, err := h.mgrChain.Request(ctx, &networkservice.NetworkServiceRequest{Connection: mgrConn()}); err != nil {
			t.Fatal(err)
		}
	}
	sub, _ := subscribe(t, h.mgrMon, &networkservice.MonitorScopeSelector{}, false)
	sub.next(t)
	if _, err := h.mgrChain.Close(ctx, mgrConn()); err != nil {
		t.Fatal(err)
	}
	if ev := sub.next(t); ev.GetType() != networkservice.ConnectionEventType_DELETE {
		t.Fatalf("want DELETE, got %s", ev.GetType())
	}
	h.fwdStop()
	sub.quiet(t, 100*time.Millisecond) // no DOWN for a closed connection
	if h.fwdMon.Len() != 0 || h.mgrMon.Len() != 0 {
		t.Fatalf("monitors hold %d/%d connections after Close", h.fwdMon.Len(), h.mgrMon.Len())
	}
}

func TestRelayEndsWithChainContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	h := newHops(t, ctx)
	if _, err := h.mgrChain.Request(ctx, &networkservice.NetworkServiceRequest{Connection: mgrConn()}); err != nil {
		t.Fatal(err)
	}
	cancel() // goleak in TestMain proves the relay goroutine ends
	_, _ = h.mgrChain.Close(context.Background(), mgrConn())
}

// TestCloseOnEndpointLoss: with WithCloseOnEndpointLoss, a hop whose next
// hop is the connection's endpoint closes the connection when that endpoint
// dies (DOWN, then DELETE upstream); when the next hop is not the endpoint,
// the connection stays, DOWN, for the client to heal.
func TestCloseOnEndpointLoss(t *testing.T) {
	for _, tc := range []struct {
		name     string
		endpoint string // the connection's endpoint name
		closed   bool
	}{
		{"next hop is the endpoint", "fwd", true},
		{"next hop passes on", "nse-behind", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			h := newHops(t, ctx, monitor.WithCloseOnEndpointLoss(100*time.Millisecond))
			c := mgrConn()
			c.NetworkServiceEndpointName = tc.endpoint
			if _, err := h.mgrChain.Request(ctx, &networkservice.NetworkServiceRequest{Connection: c}); err != nil {
				t.Fatal(err)
			}
			sub, _ := subscribe(t, h.mgrMon, &networkservice.MonitorScopeSelector{}, false)
			sub.next(t)
			h.fwdStop()
			ev := sub.next(t)
			if got := ev.GetConnections()["mgr-1"]; ev.GetType() != networkservice.ConnectionEventType_UPDATE || got.GetState() != networkservice.State_DOWN {
				t.Fatalf("want UPDATE DOWN, got %s %v", ev.GetType(), ev.GetConnections())
			}
			if !tc.closed {
				sub.quiet(t, 500*time.Millisecond)
				if h.mgrMon.Len() != 1 {
					t.Fatalf("the hop holds %d connections, want the DOWN one", h.mgrMon.Len())
				}
				c := mgrConn()
				c.NetworkServiceEndpointName = tc.endpoint
				_, _ = h.mgrChain.Close(ctx, c)
				return
			}
			if ev := sub.next(t); ev.GetType() != networkservice.ConnectionEventType_DELETE {
				t.Fatalf("want DELETE once the endpoint is found gone, got %s %v", ev.GetType(), ev.GetConnections())
			}
			if h.mgrMon.Len() != 0 {
				t.Fatal("the hop still holds the connection of a dead endpoint")
			}
		})
	}
}
