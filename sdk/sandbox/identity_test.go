// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package sandbox_test

import (
	"testing"
	"time"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/sandbox"
)

// SVIDs that live a few seconds are rotated while a remote connection
// refreshes: no component restarts, the connection is never closed, and
// new connections keep working after every original SVID has expired.
func TestSVIDRotationWithoutRestartsOrCloses(t *testing.T) {
	// Tokens never outlive their signer's SVID, so they last at most the
	// few seconds the SVID has left and are refreshed accordingly.
	const svidLife = 9 * time.Second
	ctx, d := setup(t, &registry.NetworkService{Name: "red"}, sandbox.WithMTLS(), sandbox.WithNodes(2),
		sandbox.WithSVIDLifetime(svidLife))
	nse := mustEndpoint(ctx, t, d.Nodes[1], "nse", nil, []string{"red"})
	nsc := mustClient(ctx, t, d.Nodes[0], "nsc")
	conn, err := nsc.Request(ctx, request("red"))
	if err != nil {
		t.Fatal(err)
	}
	// Rotate at a third of the life (SPIRE rotates at half), past the
	// expiry of the first SVIDs.
	for range 4 {
		time.Sleep(svidLife / 3)
		if err := d.RotateSVIDs(); err != nil {
			t.Fatal(err)
		}
	}
	// Calls in flight when a rotation closes connections fail once, as after
	// any lost connection (refresh retries them); let the last one settle.
	time.Sleep(time.Second)
	if c := nse.Counter.Closes(); c != 0 {
		t.Fatalf("the endpoint saw %d closes during rotations", c)
	}
	if r := nse.Counter.Requests(); r < 4 {
		t.Fatalf("the endpoint saw %d requests, want refreshes throughout", r)
	}
	again, err := nsc.Request(ctx, &networkservice.NetworkServiceRequest{Connection: conn.Clone()})
	if err != nil {
		t.Fatalf("refresh after rotations: %v", err)
	}
	checkTokens(t, d, again)
	other := mustClient(ctx, t, d.Nodes[0], "nsc-2")
	conn2, err := other.Request(ctx, request("red"))
	if err != nil {
		t.Fatalf("new connection after rotations: %v", err)
	}
	for _, c := range []struct {
		cl networkservice.NetworkServiceClient
		cn *networkservice.Connection
	}{{nsc, again}, {other, conn2}} {
		if _, err := c.cl.Close(ctx, c.cn); err != nil {
			t.Fatal(err)
		}
	}
}
