// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package monitor_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/core/begin"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/networkservice/monitor"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func conn(id, ns, nsc string) *networkservice.Connection {
	return &networkservice.Connection{
		Id: id, NetworkService: ns,
		Path: &networkservice.Path{Index: 1, PathSegments: []*networkservice.PathSegment{{Name: "nsc", Id: nsc}, {Name: "nsmgr", Id: id}}},
	}
}

func ids(ev *networkservice.ConnectionEvent) []string {
	return slices.Sorted(maps.Keys(ev.GetConnections()))
}

func TestServerEvents(t *testing.T) {
	tests := []struct {
		name        string
		sel         *networkservice.MonitorScopeSelector
		wantInitial []string
		wantUpdate  bool // sees the new red connection c3
		wantDelete  bool // sees c1 closed
	}{
		{name: "everything", sel: &networkservice.MonitorScopeSelector{}, wantInitial: []string{"c1", "c2"}, wantUpdate: true, wantDelete: true},
		{name: "by network service", sel: &networkservice.MonitorScopeSelector{NetworkServices: []string{"blue"}}, wantInitial: []string{"c2"}},
		{name: "by client segment id", sel: &networkservice.MonitorScopeSelector{PathSegments: []*networkservice.PathSegment{{Id: "nsc-1"}}}, wantInitial: []string{"c1"}, wantDelete: true},
		{name: "by segment name", sel: &networkservice.MonitorScopeSelector{PathSegments: []*networkservice.PathSegment{{Name: "nsmgr"}}}, wantInitial: []string{"c1", "c2"}, wantUpdate: true, wantDelete: true},
		{name: "nothing matches", sel: &networkservice.MonitorScopeSelector{PathSegments: []*networkservice.PathSegment{{Id: "other"}}}, wantInitial: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			mon := monitor.NewServer(ctx)
			srv := chain.NewServer(begin.NewServer(), mon)
			for _, c := range []*networkservice.Connection{conn("c1", "red", "nsc-1"), conn("c2", "blue", "nsc-2")} {
				if _, err := srv.Request(ctx, &networkservice.NetworkServiceRequest{Connection: c}); err != nil {
					t.Fatal(err)
				}
			}
			sub, _ := subscribe(t, mon, tt.sel, false)
			ev := sub.next(t)
			if ev.GetType() != networkservice.ConnectionEventType_INITIAL_STATE_TRANSFER || !slices.Equal(ids(ev), tt.wantInitial) {
				t.Fatalf("initial %s %v, want %v", ev.GetType(), ids(ev), tt.wantInitial)
			}
			if _, err := srv.Request(ctx, &networkservice.NetworkServiceRequest{Connection: conn("c3", "red", "nsc-3")}); err != nil {
				t.Fatal(err)
			}
			if tt.wantUpdate {
				ev := sub.next(t)
				if ev.GetType() != networkservice.ConnectionEventType_UPDATE || !slices.Equal(ids(ev), []string{"c3"}) {
					t.Fatalf("got %s %v, want UPDATE [c3]", ev.GetType(), ids(ev))
				}
			}
			if _, err := srv.Close(ctx, conn("c1", "red", "nsc-1")); err != nil {
				t.Fatal(err)
			}
			if tt.wantDelete {
				ev := sub.next(t)
				if ev.GetType() != networkservice.ConnectionEventType_DELETE || !slices.Equal(ids(ev), []string{"c1"}) {
					t.Fatalf("got %s %v, want DELETE [c1]", ev.GetType(), ids(ev))
				}
			}
			sub.quiet(t, 50*time.Millisecond)
			if mon.Len() != 2 {
				t.Fatalf("server holds %d connections, want 2", mon.Len())
			}
		})
	}
}

// failing fails Requests and Closes after the monitor.
type failing struct{}

func (failing) Request(context.Context, *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	return nil, status.Error(codes.Internal, "no")
}

func (failing) Close(context.Context, *networkservice.Connection) (*emptypb.Empty, error) {
	return nil, status.Error(codes.Internal, "no")
}

func TestServerFailures(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	mon := monitor.NewServer(ctx)
	srv := chain.NewServer(mon, failing{})
	sub, _ := subscribe(t, mon, &networkservice.MonitorScopeSelector{}, false)
	sub.next(t) // initial
	if _, err := srv.Request(ctx, &networkservice.NetworkServiceRequest{Connection: conn("c1", "red", "n")}); err == nil {
		t.Fatal("want error")
	}
	sub.quiet(t, 50*time.Millisecond) // a failed Request publishes nothing
	if _, err := srv.Close(ctx, conn("c1", "red", "n")); err == nil {
		t.Fatal("want the chain's Close error")
	}
	// A Close always tells subscribers that this hop no longer holds it.
	if ev := sub.next(t); ev.GetType() != networkservice.ConnectionEventType_DELETE {
		t.Fatalf("got %s, want DELETE", ev.GetType())
	}
}

func TestSlowSubscriberDoesNotBlockRequests(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	mon := monitor.NewServer(ctx)
	srv := chain.NewServer(begin.NewServer(), mon)
	sub, _ := subscribe(t, mon, &networkservice.MonitorScopeSelector{}, true) // never sends until the gate opens

	const n = 300
	done := make(chan error, 1)
	go func() {
		for round := 0; round < 3; round++ {
			for i := 0; i < n; i++ {
				c := conn(fmt.Sprintf("c%d", i), "red", "nsc")
				c.Labels = map[string]string{"round": fmt.Sprint(round)}
				if _, err := srv.Request(ctx, &networkservice.NetworkServiceRequest{Connection: c}); err != nil {
					done <- err
					return
				}
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Requests blocked behind a subscriber that does not read")
	}

	close(sub.gate)
	latest := map[string]string{}
	deadline := time.After(5 * time.Second)
	for len(latest) < n || !allRound(latest, "2") {
		select {
		case ev := <-sub.events:
			for id, c := range ev.GetConnections() {
				latest[id] = c.GetLabels()["round"]
			}
		case <-deadline:
			t.Fatalf("subscriber saw %d connections, not all in their final state", len(latest))
		}
	}
}

func allRound(m map[string]string, want string) bool {
	for _, v := range m {
		if v != want {
			return false
		}
	}
	return true
}

func TestStreamsEndWithServerContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	mon := monitor.NewServer(ctx)
	s := newStream(context.Background(), false)
	done := make(chan error, 1)
	go func() { done <- mon.MonitorConnections(&networkservice.MonitorScopeSelector{}, s) }()
	s.next(t)
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("stream outlived the server context")
	}
	if err := mon.MonitorConnections(&networkservice.MonitorScopeSelector{}, s); status.Code(err) != codes.Unavailable {
		t.Fatalf("subscribing to a stopped server: %v, want Unavailable", err)
	}
}
