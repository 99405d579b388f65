// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package begin_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/core/begin"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/core/metadata"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var counterKey = metadata.NewKey[int]("test.counter")

// probe records what the rest of the chain sees.
type probe struct {
	chain.ServerLink
	mu        sync.Mutex
	active    atomic.Int32
	maxActive atomic.Int32
	requests  int
	closes    []*networkservice.Connection
	fail      error
	factory   begin.EventFactory
	counters  []int
	delay     time.Duration
}

func (p *probe) Request(ctx context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	n := p.active.Add(1)
	defer p.active.Add(-1)
	for {
		m := p.maxActive.Load()
		if n <= m || p.maxActive.CompareAndSwap(m, n) {
			break
		}
	}
	time.Sleep(p.delay)
	c, _ := counterKey.Load(ctx, metadata.Server)
	counterKey.Store(ctx, metadata.Server, c+1)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests++
	p.counters = append(p.counters, c+1)
	p.factory = begin.FromContext(ctx)
	if p.fail != nil {
		return nil, p.fail
	}
	conn := req.GetConnection().Clone()
	conn.NetworkServiceEndpointName = "nse-1"
	return conn, nil
}

func (p *probe) Close(_ context.Context, conn *networkservice.Connection) (*emptypb.Empty, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closes = append(p.closes, conn.Clone())
	return &emptypb.Empty{}, nil
}

func req(id string) *networkservice.NetworkServiceRequest {
	return &networkservice.NetworkServiceRequest{Connection: &networkservice.Connection{Id: id}}
}

func TestServerSerialisesOneConnection(t *testing.T) {
	p := &probe{delay: 5 * time.Millisecond}
	b := begin.NewServer()
	s := chain.NewServer(b, p)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := s.Request(context.Background(), req("same")); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := p.maxActive.Load(); got != 1 {
		t.Fatalf("%d requests of one connection ran at once, want 1", got)
	}
	// Metadata persisted across the 8 requests of the connection.
	if got := p.counters[len(p.counters)-1]; got != 8 {
		t.Fatalf("metadata counter = %d, want 8", got)
	}
}

func TestServerRunsConnectionsInParallel(t *testing.T) {
	p := &probe{delay: 20 * time.Millisecond}
	s := chain.NewServer(begin.NewServer(), p)
	var wg sync.WaitGroup
	for _, id := range []string{"a", "b", "c", "d"} {
		wg.Go(func() { _, _ = s.Request(context.Background(), req(id)) })
	}
	wg.Wait()
	if p.maxActive.Load() < 2 {
		t.Fatal("different connections were serialised")
	}
}

func TestServerClose(t *testing.T) {
	p := &probe{}
	b := begin.NewServer()
	s := chain.NewServer(b, p)
	if _, err := s.Request(context.Background(), req("c1")); err != nil {
		t.Fatal(err)
	}
	// The caller's copy lacks what the chain returned; Close must use the stored one.
	if _, err := s.Close(context.Background(), &networkservice.Connection{Id: "c1"}); err != nil {
		t.Fatal(err)
	}
	if len(p.closes) != 1 || p.closes[0].GetNetworkServiceEndpointName() != "nse-1" {
		t.Fatalf("closes = %v, want one with the stored endpoint name", p.closes)
	}
	// Second Close and Close of an unknown id do not reach the chain.
	_, _ = s.Close(context.Background(), &networkservice.Connection{Id: "c1"})
	_, _ = s.Close(context.Background(), &networkservice.Connection{Id: "never"})
	if len(p.closes) != 1 {
		t.Fatalf("closes = %d, want 1", len(p.closes))
	}
	if b.Len() != 0 {
		t.Fatalf("begin holds %d connections after Close", b.Len())
	}
	// Metadata was dropped with the connection.
	if _, err := s.Request(context.Background(), req("c1")); err != nil {
		t.Fatal(err)
	}
	if got := p.counters[len(p.counters)-1]; got != 1 {
		t.Fatalf("metadata survived Close: counter = %d", got)
	}
}

func TestServerFailedInitialRequestForgetsConnection(t *testing.T) {
	p := &probe{fail: errors.New("boom")}
	b := begin.NewServer()
	s := chain.NewServer(b, p)
	if _, err := s.Request(context.Background(), req("c")); err == nil {
		t.Fatal("want error")
	}
	if b.Len() != 0 {
		t.Fatal("failed initial request left state behind")
	}
	// A failed refresh keeps the established connection.
	p.fail = nil
	_, _ = s.Request(context.Background(), req("c"))
	p.fail = errors.New("boom")
	_, _ = s.Request(context.Background(), req("c"))
	if b.Len() != 1 {
		t.Fatal("failed refresh dropped the connection")
	}
	_, _ = s.Close(context.Background(), &networkservice.Connection{Id: "c"})
}

func TestEmptyIDIsInvalid(t *testing.T) {
	s := chain.NewServer(begin.NewServer())
	_, err := s.Request(context.Background(), req(""))
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("err = %v, want InvalidArgument", err)
	}
}

func TestServerEvents(t *testing.T) {
	p := &probe{}
	b := begin.NewServer()
	s := chain.NewServer(b, p)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := s.Request(ctx, req("c")); err != nil {
		t.Fatal(err)
	}
	f := p.factory
	if err := <-f.Request(); err != nil {
		t.Fatalf("event request: %v", err)
	}
	if p.requests != 2 {
		t.Fatalf("requests = %d, want 2", p.requests)
	}
	if err := <-f.Close(); err != nil {
		t.Fatalf("event close: %v", err)
	}
	if len(p.closes) != 1 || b.Len() != 0 {
		t.Fatalf("close event: closes=%d held=%d", len(p.closes), b.Len())
	}
	if err := <-f.Request(); !errors.Is(err, begin.ErrClosed) {
		t.Fatalf("event after close: %v, want ErrClosed", err)
	}
	cancelled, stop := context.WithCancel(context.Background())
	stop()
	if err := <-f.Close(begin.CancelContext(cancelled)); err == nil {
		t.Fatal("cancelled event ran")
	}
}

func TestServerReselectClosesOldPath(t *testing.T) {
	p := &probe{}
	s := chain.NewServer(begin.NewServer(), p)
	_, _ = s.Request(context.Background(), req("c"))
	r := req("c")
	r.Connection.State = networkservice.State_RESELECT_REQUESTED
	if _, err := s.Request(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if len(p.closes) != 1 {
		t.Fatalf("reselect closes = %d, want 1", len(p.closes))
	}
	_, _ = s.Close(context.Background(), r.Connection)
}

// clientProbe is the client-side twin of probe.
type clientProbe struct {
	chain.ClientLink
	requests []*networkservice.NetworkServiceRequest
	closes   int
	factory  begin.EventFactory
	fail     bool
}

func (p *clientProbe) Request(ctx context.Context, r *networkservice.NetworkServiceRequest, _ ...grpc.CallOption) (*networkservice.Connection, error) {
	p.requests = append(p.requests, r.Clone())
	p.factory = begin.FromContext(ctx)
	if p.fail {
		return nil, errors.New("down")
	}
	conn := r.GetConnection().Clone()
	if conn.NetworkServiceEndpointName == "" {
		conn.NetworkServiceEndpointName = "nse-" + string(rune('a'+len(p.requests)-1))
	}
	conn.Path = &networkservice.Path{PathSegments: []*networkservice.PathSegment{{Name: "nsc", Id: conn.Id}}}
	return conn, nil
}

func (p *clientProbe) Close(context.Context, *networkservice.Connection, ...grpc.CallOption) (*emptypb.Empty, error) {
	p.closes++
	return &emptypb.Empty{}, nil
}

func TestClientMergesRefreshIntoStoredConnection(t *testing.T) {
	p := &clientProbe{}
	c := chain.NewClient(begin.NewClient(nil), p)
	conn, err := c.Request(context.Background(), req("x"))
	if err != nil {
		t.Fatal(err)
	}
	// Resending the original request refreshes the same path and endpoint.
	if _, err := c.Request(context.Background(), req("x")); err != nil {
		t.Fatal(err)
	}
	if got := p.requests[1].GetConnection(); got.GetNetworkServiceEndpointName() != conn.GetNetworkServiceEndpointName() || len(got.GetPath().GetPathSegments()) != 1 {
		t.Fatalf("refresh lost the stored connection: %v", got)
	}
	// An explicit label change is applied.
	r := req("x")
	r.Connection.Labels = map[string]string{"color": "red"}
	_, _ = c.Request(context.Background(), r)
	if p.requests[2].GetConnection().GetLabels()["color"] != "red" {
		t.Fatal("label change not applied")
	}
	_, _ = c.Close(context.Background(), conn)
	if p.closes != 1 {
		t.Fatalf("closes = %d", p.closes)
	}
}

// meshProbe answers as the rest of a mesh would: the returned path goes on
// past the caller's segment to a forwarder and an endpoint, which chose a
// mechanism from the preferences and addresses.
type meshProbe struct {
	chain.ClientLink
	requests []*networkservice.NetworkServiceRequest
}

func (p *meshProbe) Request(_ context.Context, r *networkservice.NetworkServiceRequest, _ ...grpc.CallOption) (*networkservice.Connection, error) {
	p.requests = append(p.requests, r.Clone())
	conn := r.GetConnection().Clone()
	conn.Path.PathSegments = append(conn.Path.PathSegments[:conn.Path.Index+1],
		&networkservice.PathSegment{Name: "fwd", Id: "fwd-id", Token: "fwd-token"},
		&networkservice.PathSegment{Name: "nse", Id: "nse-id", Token: "nse-token"})
	conn.NetworkServiceEndpointName = "nse"
	conn.Context = &networkservice.ConnectionContext{IpContext: &networkservice.IPContext{SrcIpAddrs: []string{"10.0.0.1/32"}}}
	if conn.Mechanism == nil && len(r.GetMechanismPreferences()) > 0 {
		conn.Mechanism = r.GetMechanismPreferences()[0].Clone()
	}
	return conn, nil
}

func (p *meshProbe) Close(context.Context, *networkservice.Connection, ...grpc.CallOption) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

// A passthrough's client (index 1) whose caller restarted gets the path only
// up to its own segment, with fresh tokens: the request that goes on is the
// stored connection with the caller's part of the path in front.
func TestClientMergesCallerPathWithStoredRest(t *testing.T) {
	kernel := func(netns string) *networkservice.Mechanism {
		return &networkservice.Mechanism{Cls: "LOCAL", Type: "KERNEL", Parameters: map[string]string{"inodeURL": netns}}
	}
	fresh := func(token string) *networkservice.NetworkServiceRequest {
		return &networkservice.NetworkServiceRequest{
			Connection: &networkservice.Connection{Id: "mgr-id", NetworkService: "red", Path: &networkservice.Path{Index: 1, PathSegments: []*networkservice.PathSegment{
				{Name: "nsc", Id: "nsc-0", Token: "nsc-" + token}, {Name: "nsmgr", Id: "mgr-id", Token: "mgr-" + token},
			}}},
			MechanismPreferences: []*networkservice.Mechanism{kernel("ns-a")},
		}
	}
	for _, tt := range []struct {
		name          string
		again         func() *networkservice.NetworkServiceRequest
		wantPath      []string // name/token of the segments the next element sees
		wantMechanism *networkservice.Mechanism
	}{
		{
			name:          "fresh path and preferences: the rest of the path stays, the mechanism is chosen anew",
			again:         func() *networkservice.NetworkServiceRequest { return fresh("2") },
			wantPath:      []string{"nsc/nsc-2", "nsmgr/mgr-2", "fwd/fwd-token", "nse/nse-token"},
			wantMechanism: nil,
		},
		{
			name: "fresh path with a mechanism: the caller's mechanism",
			again: func() *networkservice.NetworkServiceRequest {
				r := fresh("2")
				r.Connection.Mechanism = kernel("ns-b")
				return r
			},
			wantPath:      []string{"nsc/nsc-2", "nsmgr/mgr-2", "fwd/fwd-token", "nse/nse-token"},
			wantMechanism: kernel("ns-b"),
		},
		{
			name: "the whole path: taken as it is",
			again: func() *networkservice.NetworkServiceRequest {
				r := fresh("2")
				r.Connection.Path.PathSegments = append(r.Connection.Path.PathSegments, &networkservice.PathSegment{Name: "fwd", Id: "fwd-id", Token: "sent"})
				return r
			},
			wantPath: []string{"nsc/nsc-2", "nsmgr/mgr-2", "fwd/sent"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := &meshProbe{}
			b := begin.NewClient(nil)
			c := chain.NewClient(b, p)
			first, err := c.Request(context.Background(), fresh("1"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Request(context.Background(), tt.again()); err != nil {
				t.Fatal(err)
			}
			got := p.requests[1].GetConnection()
			var path []string
			for _, s := range got.GetPath().GetPathSegments() {
				path = append(path, s.GetName()+"/"+s.GetToken())
			}
			if fmt.Sprint(path) != fmt.Sprint(tt.wantPath) || got.GetPath().GetIndex() != 1 {
				t.Errorf("next saw path %v index %d, want %v index 1", path, got.GetPath().GetIndex(), tt.wantPath)
			}
			if len(tt.wantPath) == 4 {
				if got.GetNetworkServiceEndpointName() != "nse" || !proto.Equal(got.GetContext(), first.GetContext()) {
					t.Errorf("the stored endpoint and context are lost: %v", got)
				}
				if !proto.Equal(got.GetMechanism(), tt.wantMechanism) {
					t.Errorf("mechanism %v, want %v", got.GetMechanism(), tt.wantMechanism)
				}
			}
			if !proto.Equal(p.requests[1].GetMechanismPreferences()[0], kernel("ns-a")) {
				t.Errorf("preferences %v", p.requests[1].GetMechanismPreferences())
			}
			if _, err := c.Close(context.Background(), first); err != nil || b.Len() != 0 {
				t.Fatalf("close: %v, %d connections left", err, b.Len())
			}
		})
	}
}

func TestClientReselectEvent(t *testing.T) {
	p := &clientProbe{}
	c := chain.NewClient(begin.NewClient(nil), p)
	conn, err := c.Request(context.Background(), req("x"))
	if err != nil {
		t.Fatal(err)
	}
	if err := <-p.factory.Request(begin.WithReselect()); err != nil {
		t.Fatal(err)
	}
	last := p.requests[len(p.requests)-1].GetConnection()
	if p.closes != 1 || last.GetState() != networkservice.State_RESELECT_REQUESTED || last.GetNetworkServiceEndpointName() != "" {
		t.Fatalf("reselect: closes=%d last=%v", p.closes, last)
	}
	_, _ = c.Close(context.Background(), conn)
}

func TestStoredStateIsUpAfterReselect(t *testing.T) {
	p := &clientProbe{}
	c := chain.NewClient(begin.NewClient(nil), p)
	conn, _ := c.Request(context.Background(), req("x"))
	if err := <-p.factory.Request(begin.WithReselect()); err != nil {
		t.Fatal(err)
	}
	_, _ = c.Request(context.Background(), req("x"))
	if st := p.requests[len(p.requests)-1].GetConnection().GetState(); st != networkservice.State_UP {
		t.Fatalf("refresh after reselect sent state %v, want UP", st)
	}
	_, _ = c.Close(context.Background(), conn)
}

// refusing denies every Close, as authorize does for a caller that does not
// own the connection.
// refusing refuses every Close after writing into the connection it got, as
// updatetoken writes the caller's token before authorize refuses it.
type refusing struct {
	probe
	labels []map[string]string // of the Requests that reached it
}

func (r *refusing) Request(ctx context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	r.mu.Lock()
	r.labels = append(r.labels, req.GetConnection().Clone().GetLabels())
	r.mu.Unlock()
	return r.probe.Request(ctx, req)
}

func (r *refusing) Close(_ context.Context, conn *networkservice.Connection) (*emptypb.Empty, error) {
	conn.Labels = map[string]string{"written-by": "refused close"}
	return nil, status.Error(codes.PermissionDenied, "not yours")
}

func TestRefusedCloseKeepsTheConnection(t *testing.T) {
	r := &refusing{}
	b := begin.NewServer()
	s := chain.NewServer(b, r)
	if _, err := s.Request(context.Background(), req("c")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Close(context.Background(), &networkservice.Connection{Id: "c"}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("close err = %v, want PermissionDenied", err)
	}
	if b.Len() != 1 {
		t.Fatal("a refused Close dropped the connection")
	}
	// The stored connection is as the last Request left it.
	if err := <-r.factory.Request(); err != nil {
		t.Fatal(err)
	}
	if got := r.labels[len(r.labels)-1]; got != nil {
		t.Fatalf("the refused Close changed the stored connection: labels %v", got)
	}
}
