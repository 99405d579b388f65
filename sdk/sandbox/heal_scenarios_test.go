// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package sandbox_test

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/sandbox"
)

// The sandbox's self-healing scenarios (issue 6). Each kills components of
// an established connection, measures the time until the client reports
// the connection healed (and its nsmgr holds it UP again), and checks what
// is left behind. Run with -v to see the times ("HEAL" lines).

func sameSegments(t *testing.T, before, after *networkservice.Connection) {
	t.Helper()
	if a, b := strings.Join(segmentIDs(before), ","), strings.Join(segmentIDs(after), ","); a != b {
		t.Fatalf("the path changed:\n%s\n%s", strings.Join(pathNames(before), ","), strings.Join(pathNames(after), ","))
	}
}

func forwarderOnPath(t *testing.T, n *sandbox.Node, c *networkservice.Connection) *sandbox.Forwarder {
	t.Helper()
	for _, f := range n.Forwarders {
		if segmentOf(c, f.Name()) != nil {
			return f
		}
	}
	t.Fatalf("no forwarder of %s on the path %v", n.Name, pathNames(c))
	return nil
}

func unprogramAll(t *testing.T, f *sandbox.Forwarder) {
	t.Helper()
	for _, p := range f.Dataplane.Programmed() {
		if err := f.Dataplane.Unprogram(context.Background(), p); err != nil {
			t.Fatal(err)
		}
	}
}

func TestHealLocalForwarderRestart(t *testing.T) {
	h := newHealed(t)
	n := h.d.Nodes[0]
	nse := mustEndpoint(h.ctx, t, n, "nse", nil, []string{"red"})
	h.connect(n)
	before := h.path()
	fwd := n.Forwarders[0]
	start := time.Now()
	fwd.Stop()
	if err := fwd.Restart(h.ctx); err != nil {
		t.Fatal(err)
	}
	healReport(t, "local forwarder killed and restarted", h.heals(start, 10*time.Second))
	sameSegments(t, before, h.path())
	if _, unprograms := fwd.Dataplane.Counts(); unprograms != 0 {
		t.Fatalf("the restarted forwarder tore down %d pairs instead of adopting them", unprograms)
	}
	if c := nse.Counter.Closes(); c != 0 {
		t.Fatalf("endpoint got %d closes", c)
	}
	h.verify()
}

func TestHealRemoteForwarder(t *testing.T) {
	t.Run("killed and restarted", func(t *testing.T) {
		h := newHealed(t, sandbox.WithNodes(2))
		nse := mustEndpoint(h.ctx, t, h.d.Nodes[1], "nse", nil, []string{"red"})
		h.connect(h.d.Nodes[0])
		before := h.path()
		fwd := forwarderOnPath(t, h.d.Nodes[1], before)
		start := time.Now()
		fwd.Stop()
		if err := fwd.Restart(h.ctx); err != nil {
			t.Fatal(err)
		}
		healReport(t, "remote forwarder killed and restarted", h.heals(start, 10*time.Second))
		sameSegments(t, before, h.path())
		if c := nse.Counter.Closes(); c != 0 {
			t.Fatalf("endpoint got %d closes", c)
		}
		h.verify()
	})
	t.Run("killed with its data plane, another on the node", func(t *testing.T) {
		// A short registry expiry lets the dead forwarder's registration go.
		h := newHealed(t, sandbox.WithNodes(2), sandbox.WithForwardersPerNode(2), sandbox.WithRegistryExpiration(2*time.Second))
		nse := mustEndpoint(h.ctx, t, h.d.Nodes[1], "nse", nil, []string{"red"})
		h.connect(h.d.Nodes[0])
		before := h.path()
		fwd := forwarderOnPath(t, h.d.Nodes[1], before)
		start := time.Now()
		h.stopForwarder(fwd)
		unprogramAll(t, fwd)
		healReport(t, "remote forwarder killed for good (reselect)", h.heals(start, 10*time.Second))
		after := h.path()
		if segmentOf(after, fwd.Name()) != nil {
			t.Fatalf("the path still goes through the dead %s: %v", fwd.Name(), pathNames(after))
		}
		// The endpoint survived: the new path reaches it, and it closed the
		// old one exactly once.
		if after.GetNetworkServiceEndpointName() != "nse" || nse.Counter.Closes() != 1 {
			t.Fatalf("endpoint %s, %d closes; want nse, 1", after.GetNetworkServiceEndpointName(), nse.Counter.Closes())
		}
		h.verify()
	})
}

func TestHealLocalNSMgrRestart(t *testing.T) {
	h := newHealed(t)
	n := h.d.Nodes[0]
	nse := mustEndpoint(h.ctx, t, n, "nse", nil, []string{"red"})
	h.connect(n)
	before := h.path()
	start := time.Now()
	if err := n.NSMgr.Restart(h.ctx); err != nil {
		t.Fatal(err)
	}
	healReport(t, "new client after the nsmgr restart", h.newClientConnects(n, "nsc-new"))
	healReport(t, "local nsmgr restarted", h.heals(start, 10*time.Second))
	sameSegments(t, before, h.path())
	// The only close is the new client's.
	if _, unprograms := n.Forwarders[0].Dataplane.Counts(); unprograms != 1 {
		t.Fatalf("the forwarder unprogrammed %d pairs, want 1 (the new client's)", unprograms)
	}
	if c := nse.Counter.Closes(); c != 1 {
		t.Fatalf("endpoint got %d closes, want 1 (the new client's)", c)
	}
	h.verify()
}

func TestHealRemoteNSMgrRestart(t *testing.T) {
	h := newHealed(t, sandbox.WithNodes(2))
	nse := mustEndpoint(h.ctx, t, h.d.Nodes[1], "nse", nil, []string{"red"})
	h.connect(h.d.Nodes[0])
	before := h.path()
	remote := h.d.Nodes[1]
	start := time.Now()
	remote.NSMgr.Stop()
	time.Sleep(100 * time.Millisecond)
	if err := remote.NSMgr.Restart(h.ctx); err != nil {
		t.Fatal(err)
	}
	healReport(t, "remote nsmgr killed, restarted after 100ms", h.heals(start, 10*time.Second))
	sameSegments(t, before, h.path())
	for _, n := range h.d.Nodes {
		if _, unprograms := n.Forwarders[0].Dataplane.Counts(); unprograms != 0 {
			t.Fatalf("%s unprogrammed %d pairs", n.Forwarders[0].Name(), unprograms)
		}
	}
	if c := nse.Counter.Closes(); c != 0 {
		t.Fatalf("endpoint got %d closes", c)
	}
	h.verify()
}

func TestHealEndpointDeath(t *testing.T) {
	for _, nodes := range []int{1, 2} {
		t.Run(map[int]string{1: "local", 2: "remote"}[nodes], func(t *testing.T) {
			h := newHealed(t, sandbox.WithNodes(nodes), sandbox.WithRegistryExpiration(2*time.Second))
			last := h.d.Nodes[nodes-1]
			nses := map[string]*sandbox.Endpoint{
				"nse-a": mustEndpoint(h.ctx, t, last, "nse-a", nil, []string{"red"}),
				"nse-b": mustEndpoint(h.ctx, t, last, "nse-b", nil, []string{"red"}),
			}
			h.connect(h.d.Nodes[0])
			first := h.conn.GetNetworkServiceEndpointName()
			start := time.Now()
			h.stopEndpoint(nses[first])
			healReport(t, "endpoint killed, another available ("+map[int]string{1: "local", 2: "remote"}[nodes]+")", h.heals(start, 10*time.Second))
			after := h.path()
			if got := after.GetNetworkServiceEndpointName(); got == first || nses[got] == nil {
				t.Fatalf("healed onto %q, want the other endpoint than %s", got, first)
			}
			h.verify()
		})
	}
}

// A data plane broken under a healthy control plane (the pair deleted by
// hand) is caught by the liveness check and reselected.
func TestHealBrokenDataPlane(t *testing.T) {
	h := newHealed(t)
	n := h.d.Nodes[0]
	mustEndpoint(h.ctx, t, n, "nse", nil, []string{"red"})
	h.connect(n)
	start := time.Now()
	unprogramAll(t, n.Forwarders[0])
	healReport(t, "data plane broken under a healthy control plane", h.heals(start, 10*time.Second))
	h.verify()
}

// The registry restarts empty: connections must not notice at all, and
// registrations come back without anyone's help.
func TestHealRegistryRestart(t *testing.T) {
	h := newHealed(t, sandbox.WithNodes(2))
	nse := mustEndpoint(h.ctx, t, h.d.Nodes[1], "nse", nil, []string{"red"})
	h.connect(h.d.Nodes[0])
	before := h.path()
	start := time.Now()
	if err := h.d.Registry.Restart(h.ctx); err != nil {
		t.Fatal(err)
	}
	// A refresh right after the restart, before anything registered again.
	refreshed := time.Now()
	if _, err := h.nsc.Request(h.ctx, &networkservice.NetworkServiceRequest{Connection: h.conn.Clone()}); err != nil {
		t.Fatalf("refresh right after the registry restart: %v", err)
	}
	healReport(t, "refresh right after the registry restart", time.Since(refreshed))
	// The registry lost the service too; its owner registers it again (its
	// registry client ends with regCtx, the registration stays).
	regCtx, stopReg := context.WithCancel(h.ctx)
	if err := h.d.Nodes[1].RegisterService(regCtx, &registry.NetworkService{Name: "red"}); err != nil {
		t.Fatal(err)
	}
	stopReg()
	h.newClientConnects(h.d.Nodes[0], "nsc-new")
	healReport(t, "new client connected, from the registry restart", time.Since(start))
	h.eventually(10*time.Second, "re-registration", func() (bool, string) {
		got, err := h.registered()
		return err == nil && got["nse"] && len(got) == 3, ""
	})
	healReport(t, "registrations back, from the registry restart", time.Since(start))
	time.Sleep(500 * time.Millisecond)
	if n := h.broke(); n != 0 {
		t.Fatalf("the registry restart broke the connection %d times:\n%s", n, h.healLog())
	}
	if c := nse.Counter.Closes(); c != 1 {
		t.Fatalf("the endpoint got %d closes, want 1 (the new client's)", c)
	}
	sameSegments(t, before, h.path())
	h.verify()
}

// Two components at once.
func TestHealTwoAtOnce(t *testing.T) {
	t.Run("nsmgr and forwarder", func(t *testing.T) {
		h := newHealed(t)
		n := h.d.Nodes[0]
		nse := mustEndpoint(h.ctx, t, n, "nse", nil, []string{"red"})
		h.connect(n)
		before := h.path()
		start := time.Now()
		n.NSMgr.Stop()
		n.Forwarders[0].Stop()
		if err := n.NSMgr.Restart(h.ctx); err != nil {
			t.Fatal(err)
		}
		if err := n.Forwarders[0].Restart(h.ctx); err != nil {
			t.Fatal(err)
		}
		healReport(t, "local nsmgr and forwarder restarted together", h.heals(start, 10*time.Second))
		sameSegments(t, before, h.path())
		if c := nse.Counter.Closes(); c != 0 {
			t.Fatalf("endpoint got %d closes", c)
		}
		h.verify()
	})
	t.Run("registry and endpoint", func(t *testing.T) {
		h := newHealed(t, sandbox.WithNodes(2))
		last := h.d.Nodes[1]
		nses := map[string]*sandbox.Endpoint{
			"nse-a": mustEndpoint(h.ctx, t, last, "nse-a", nil, []string{"red"}),
			"nse-b": mustEndpoint(h.ctx, t, last, "nse-b", nil, []string{"red"}),
		}
		h.connect(h.d.Nodes[0])
		first := h.conn.GetNetworkServiceEndpointName()
		start := time.Now()
		h.stopEndpoint(nses[first])
		if err := h.d.Registry.Restart(h.ctx); err != nil {
			t.Fatal(err)
		}
		// The registry lost the service too; its owner registers it again.
		regCtx, stopReg := context.WithCancel(h.ctx)
		if err := last.RegisterService(regCtx, &registry.NetworkService{Name: "red"}); err != nil {
			t.Fatal(err)
		}
		stopReg()
		healReport(t, "registry restarted and endpoint killed together", h.heals(start, 10*time.Second))
		if got := h.path().GetNetworkServiceEndpointName(); got == first {
			t.Fatalf("still on the dead %s", got)
		}
		h.verify()
	})
}

// A client that closes its connection while heal retries ends every heal
// goroutine.
func TestHealClientClosesWhileHealing(t *testing.T) {
	h := newHealed(t)
	n := h.d.Nodes[0]
	mustEndpoint(h.ctx, t, n, "nse", nil, []string{"red"})
	h.connect(n)
	// The forwarder dies for good but its data plane lives on: heal keeps
	// re-requesting the same path.
	h.stopForwarder(n.Forwarders[0])
	h.eventually(5*time.Second, "heal retrying", func() (bool, string) {
		return h.broke() > 0, ""
	})
	time.Sleep(300 * time.Millisecond)
	closeCtx, cancel := context.WithTimeout(h.ctx, 5*time.Second)
	defer cancel()
	start := time.Now()
	_, _ = h.nsc.Close(closeCtx, h.conn)
	t.Logf("Close returned after %v", time.Since(start))
	h.eventually(2*time.Second, "no heal goroutine", func() (bool, string) {
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		return !strings.Contains(stacks, "sdk/networkservice/heal."), ""
	})
}
