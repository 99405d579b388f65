// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package sandbox_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/sandbox"
	"github.com/nsmesh/nsmesh/sdk/tools/grpcutils"
)

// A client watching its connection at its nsmgr sees it come up, sees DOWN
// when a hop behind the nsmgr dies, and sees it deleted on Close.
func TestMonitorRelaysDownstreamLoss(t *testing.T) {
	ctx, d := setup(t, &registry.NetworkService{Name: "red"}, sandbox.WithNodes(2))
	mustEndpoint(ctx, t, d.Nodes[1], "nse", nil, []string{"red"})
	nsc := mustClient(ctx, t, d.Nodes[0], "nsc")
	conn, err := nsc.Request(ctx, request("red"))
	if err != nil {
		t.Fatal(err)
	}
	cc, err := grpc.NewClient(grpcutils.Target(d.Nodes[0].NSMgr.UnixURL()), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	own := conn.GetPath().GetPathSegments()[0]
	watchCtx, stop := context.WithCancel(ctx)
	defer stop()
	stream, err := networkservice.NewMonitorConnectionClient(cc).MonitorConnections(watchCtx, &networkservice.MonitorScopeSelector{
		PathSegments: []*networkservice.PathSegment{{Id: own.GetId(), Name: own.GetName()}},
	})
	if err != nil {
		t.Fatal(err)
	}
	next := func(want func(*networkservice.ConnectionEvent) bool, what string) {
		t.Helper()
		deadline := time.AfterFunc(10*time.Second, stop)
		defer deadline.Stop()
		for {
			ev, err := stream.Recv()
			if err != nil {
				t.Fatalf("waiting for %s: %v", what, err)
			}
			if want(ev) {
				return
			}
		}
	}
	state := func(ev *networkservice.ConnectionEvent) networkservice.State {
		for _, c := range ev.GetConnections() {
			return c.GetState()
		}
		return -1
	}
	next(func(ev *networkservice.ConnectionEvent) bool {
		return ev.GetType() == networkservice.ConnectionEventType_INITIAL_STATE_TRANSFER && len(ev.GetConnections()) == 1 && state(ev) == networkservice.State_UP
	}, "the connection in the initial state")

	// The remote forwarder dies: the loss travels back hop by hop as DOWN.
	d.Nodes[1].Forwarders[0].Stop()
	next(func(ev *networkservice.ConnectionEvent) bool {
		return ev.GetType() == networkservice.ConnectionEventType_UPDATE && state(ev) == networkservice.State_DOWN
	}, "DOWN after the remote forwarder died")

	if err := d.Nodes[1].Forwarders[0].Restart(ctx); err != nil {
		t.Fatal(err)
	}
	// The refresh through the restarted forwarder brings it UP again.
	if _, err := nsc.Request(ctx, &networkservice.NetworkServiceRequest{Connection: conn.Clone()}); err != nil {
		t.Fatalf("refresh after the forwarder restart: %v", err)
	}
	next(func(ev *networkservice.ConnectionEvent) bool {
		return ev.GetType() == networkservice.ConnectionEventType_UPDATE && state(ev) == networkservice.State_UP
	}, "UP after the refresh")
	if _, err := nsc.Close(ctx, conn); err != nil {
		t.Fatal(err)
	}
	next(func(ev *networkservice.ConnectionEvent) bool {
		return ev.GetType() == networkservice.ConnectionEventType_DELETE
	}, "DELETE after Close")
}
