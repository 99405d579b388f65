// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package sandbox_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/sandbox"
)

// Two endpoints of different identities serve one network service and each
// registers it, as endpoint binaries do (issue 6, "registry + endpoint die
// together"). The first endpoint, the service's owner, dies and the
// registry restarts empty: the second endpoint's registry heal registers
// the service again, so that a new client reaches the second endpoint.
func TestSharedServiceOutlivesItsOwner(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			ctx, d := setup(t, nil, append([]sandbox.Option{sandbox.WithNodes(2)}, m.opts...)...)
			last := d.Nodes[1]
			red := &registry.NetworkService{Name: "red"}
			owner := mustEndpoint(ctx, t, last, "nse-owner", nil, []string{"red"})
			other := mustEndpoint(ctx, t, last, "nse-other", nil, []string{"red"})
			for _, e := range []*sandbox.Endpoint{owner, other} {
				if err := e.RegisterService(red); err != nil {
					t.Fatal(err)
				}
			}
			// The second registrant may not define the service otherwise (the
			// registry answered with IP, the default payload).
			err := other.RegisterService(&registry.NetworkService{Name: "red", Payload: "ETHERNET"})
			if status.Code(err) != codes.PermissionDenied {
				t.Fatalf("another definition by the second endpoint: %v, want PermissionDenied", err)
			}

			owner.Stop()
			start := time.Now()
			if err := d.Registry.Restart(ctx); err != nil {
				t.Fatal(err)
			}
			nsc := mustClient(ctx, t, d.Nodes[0], "nsc")
			var conn *networkservice.Connection
			for deadline := time.Now().Add(10 * time.Second); conn == nil; time.Sleep(100 * time.Millisecond) {
				reqCtx, cancel := context.WithTimeout(ctx, time.Second)
				conn, err = nsc.Request(reqCtx, request("red"))
				cancel()
				if err != nil && time.Now().After(deadline) {
					t.Fatalf("no connection %v after the registry restart: %v", time.Since(start), err)
				}
			}
			t.Logf("connected %v after the registry restart", time.Since(start))
			if got := conn.GetNetworkServiceEndpointName(); got != "nse-other" {
				t.Fatalf("connected to %q, want nse-other", got)
			}
			if other.Counter.Requests() != 1 {
				t.Fatalf("nse-other saw %d requests, want 1", other.Counter.Requests())
			}
			if _, err := nsc.Close(ctx, conn); err != nil {
				t.Fatal(err)
			}
		})
	}
}
