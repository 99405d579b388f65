// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package e2e

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/test/internal/mesh"
)

// The heal scenarios of issue 6 on the real binaries: a client holds one
// connection to icmp-responder while a ping every 10 ms measures the
// traffic; a scenario breaks components, and the test asserts the outage
// bound, then that the mesh is whole again (every connection UP at every
// nsmgr, the registry holding exactly the live forwarders and endpoints) and
// that closing the client leaves no interface anywhere.
//
// The client runs with cmd-nsc's default heal settings (liveness check
// every 200 ms); tokens are short (10 s) so that the registrations and
// connections of killed components expire within the test.

const pingInterval = 10 * time.Millisecond

var (
	healBroken = regexp.MustCompile(`connection broken`)
	healHealed = regexp.MustCompile(`connection healed`)
)

// healSetup describes the connection a scenario starts from.
type healSetup struct {
	// endpointNode is where the endpoints run: 1 is the client's node (a
	// veth pair), 2 the other (VXLAN, or WireGuard with wireguard).
	endpointNode int
	wireguard    bool
	// endpoints is how many endpoints serve icmp-responder (same prefix, so
	// a reselect gives the client the same addresses).
	endpoints int
}

// healRun is a running scenario.
type healRun struct {
	t        *testing.T
	m        *mesh.Mesh
	setup    healSetup
	prefix   *net.IPNet
	nsc      *mesh.Proc
	nscNS    *mesh.NetNS
	nses     map[string]*mesh.Proc // live endpoints by name
	nseNS    map[string]*mesh.NetNS
	client   side
	endpoint side
	kind     string
}

func startHeal(ctx context.Context, t *testing.T, s healSetup) *healRun {
	t.Helper()
	cfg := mesh.Config{Env: []string{"NSM_MAX_TOKEN_LIFETIME=10s", "NSM_REQUEST_TIMEOUT=3s"}, Pprof: true}
	h := &healRun{t: t, setup: s, prefix: mustCIDR(t, "172.16.1.0/24"), nses: map[string]*mesh.Proc{}, nseNS: map[string]*mesh.NetNS{}}
	switch {
	case s.endpointNode == 1:
		h.kind = "veth"
	case s.wireguard:
		h.kind = "tuntap"
	default:
		h.kind = "vxlan"
	}
	h.m = newMesh(t, cfg)
	for i := 1; i <= max(1, s.endpoints); i++ {
		h.startEndpoint(ctx, fmt.Sprintf("nse%d", i))
	}
	var err error
	if h.nscNS, err = h.m.NetNS(ctx, "nsc"); err != nil {
		t.Fatal(err)
	}
	if h.nsc, err = h.m.StartNSC(ctx, h.m.Nodes[0], h.nscNS, "nsc", []string{"kernel://icmp-responder/nsm-1"}); err != nil {
		t.Fatal(err)
	}
	h.client = waitSide(ctx, t, h.nscNS, "nsm-1", h.kind, h.prefix)
	h.endpoint = waitSide(ctx, t, h.nseNS[h.endpointName(ctx)], "", h.kind, h.prefix)
	if err := mesh.Ping(ctx, h.nscNS, h.endpoint.ips[0], 3); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *healRun) startEndpoint(ctx context.Context, name string) {
	h.t.Helper()
	ns, err := h.m.NetNS(ctx, name)
	if err != nil {
		h.t.Fatal(err)
	}
	env := []string{"NSM_SERVICE_NAMES=icmp-responder", "NSM_CIDR_PREFIX=" + h.prefix.String()}
	if h.setup.wireguard {
		env = append(env, "NSM_PAYLOAD=IP")
	}
	p, err := h.m.StartNSE(ctx, h.m.Nodes[h.setup.endpointNode-1], ns, name, env...)
	if err != nil {
		h.t.Fatal(err)
	}
	h.nses[name], h.nseNS[name] = p, ns
}

// endpointName is the endpoint serving the client's connection, as the
// client's nsmgr knows it.
func (h *healRun) endpointName(ctx context.Context) string {
	h.t.Helper()
	var name string
	err := mesh.Poll(ctx, 20*time.Millisecond, func() error {
		conns, err := h.m.Connections(ctx, h.m.Nodes[0])
		if err != nil {
			return err
		}
		if len(conns) != 1 || h.nses[conns[0].GetNetworkServiceEndpointName()] == nil {
			return fmt.Errorf("nsmgr1 holds %d connections (%v), want one to a live endpoint", len(conns), describeConns(conns))
		}
		name = conns[0].GetNetworkServiceEndpointName()
		return nil
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return name
}

// killEndpoint kills the endpoint serving the connection together with its
// namespace, as when its pod dies.
func (h *healRun) killEndpoint(ctx context.Context) {
	h.t.Helper()
	name := h.endpointName(ctx)
	h.nses[name].Kill()
	if err := h.m.DeleteNetNS(ctx, h.nseNS[name]); err != nil {
		h.t.Fatal(err)
	}
	delete(h.nses, name)
	delete(h.nseNS, name)
}

func describeConns(conns []*networkservice.Connection) string {
	var out []string
	for _, c := range conns {
		var path []string
		for _, s := range c.GetPath().GetPathSegments() {
			path = append(path, s.GetName())
		}
		out = append(out, fmt.Sprintf("%s %s via %s to %s", c.GetId(), c.GetState(), strings.Join(path, ">"), c.GetNetworkServiceEndpointName()))
	}
	return strings.Join(out, "; ")
}

// measure pings the endpoint every 10 ms from before break until the
// connection has healed (every nsmgr holds it UP and replies come again)
// plus a second, and returns what the pinger saw.
func (h *healRun) measure(ctx context.Context, name string, breakIt func()) mesh.PingStats {
	h.t.Helper()
	p, err := mesh.StartPinger(h.nscNS, h.endpoint.ips[0], pingInterval)
	if err != nil {
		h.t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	broken := len(healBroken.FindAllString(h.nsc.Log(), -1))
	before := h.goroutines(ctx)
	breakIt()
	h.waitWhole(ctx)
	// Traffic flows again: the last half second was answered.
	if err := mesh.Poll(ctx, 50*time.Millisecond, func() error {
		if err := mesh.Ping(ctx, h.nscNS, h.endpoint.ips[0], 1); err != nil {
			return err
		}
		return nil
	}); err != nil {
		p.Stop(0)
		h.t.Fatal(err)
	}
	time.Sleep(time.Second)
	stats := p.Stop(200 * time.Millisecond)
	h.noGoroutineGrowth(ctx, before)
	heals := len(healBroken.FindAllString(h.nsc.Log(), -1)) - broken
	h.t.Logf("HEAL-E2E %s over %s: %s; client heals: %d", name, h.kind, stats, heals)
	return stats
}

// goroutineSlack is how many more goroutines than before a break a process
// that lived through it may run once the connection has healed: timers and
// gRPC's own housekeeping come and go.
const goroutineSlack = 5

// goroutines counts the goroutines of every nsmgr and forwarder.
func (h *healRun) goroutines(ctx context.Context) map[*mesh.Proc]int {
	h.t.Helper()
	out := map[*mesh.Proc]int{}
	for _, n := range h.m.Nodes {
		for p, addr := range map[*mesh.Proc]string{n.Nsmgr: mesh.NsmgrPprof, n.Forwarder: mesh.ForwarderPprof} {
			c, err := mesh.Goroutines(ctx, p, addr)
			if err != nil {
				h.t.Fatal(err)
			}
			out[p] = c
		}
	}
	return out
}

// noGoroutineGrowth checks that every nsmgr and forwarder that lived
// through the break runs about as many goroutines as before it (restarted
// ones start afresh and are not compared).
func (h *healRun) noGoroutineGrowth(ctx context.Context, before map[*mesh.Proc]int) {
	h.t.Helper()
	var last string
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := mesh.Poll(pctx, 100*time.Millisecond, func() error {
		var grown []string
		var all []string
		for p, c := range h.goroutines(ctx) {
			b, ok := before[p]
			if !ok {
				continue
			}
			all = append(all, fmt.Sprintf("%s %d->%d", p.Name, b, c))
			if c > b+goroutineSlack {
				grown = append(grown, fmt.Sprintf("%s %d->%d", p.Name, b, c))
			}
		}
		slices.Sort(all)
		last = strings.Join(all, ", ")
		if len(grown) > 0 {
			return fmt.Errorf("goroutines grew: %s", strings.Join(grown, ", "))
		}
		return nil
	})
	if err != nil {
		h.t.Error(err)
		return
	}
	h.t.Logf("goroutines of the surviving nsmgrs and forwarders: %s", last)
}

// waitWhole waits until the mesh is whole again: the client's connection
// UP at every nsmgr on its path (one connection at node 1, one at node 2
// when remote), and the registry holding exactly both forwarders and the
// live endpoints.
func (h *healRun) waitWhole(ctx context.Context) {
	h.t.Helper()
	err := mesh.Poll(ctx, 50*time.Millisecond, func() error {
		for _, n := range h.m.Nodes {
			want := 0
			if n.Index == 1 || h.setup.endpointNode == n.Index {
				want = 1
			}
			conns, err := h.m.Connections(ctx, n)
			if err != nil {
				return err
			}
			if len(conns) != want {
				return fmt.Errorf("nsmgr%d holds %d connections, want %d: %s", n.Index, len(conns), want, describeConns(conns))
			}
			for _, c := range conns {
				if c.GetState() != networkservice.State_UP {
					return fmt.Errorf("nsmgr%d: %s", n.Index, describeConns(conns))
				}
			}
		}
		return nil
	})
	if err != nil {
		h.t.Fatal(err)
	}
}

// checkRegistrations waits until the registry holds exactly the forwarders
// and the live endpoints (a killed endpoint's registration expires with its
// token).
func (h *healRun) checkRegistrations(ctx context.Context) {
	h.t.Helper()
	want := []string{h.m.Nodes[0].ForwarderName, h.m.Nodes[1].ForwarderName}
	for name := range h.nses {
		want = append(want, name)
	}
	slices.Sort(want)
	var got []string
	err := mesh.Poll(ctx, 100*time.Millisecond, func() error {
		var err error
		if got, err = h.m.Registrations(ctx); err != nil {
			return err
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("registry holds %v, want %v", got, want)
		}
		return nil
	})
	if err != nil {
		h.t.Fatal(err)
	}
}

// finish checks that the connection carries traffic after the heal, the
// registrations are right, and that closing the client leaves nothing.
func (h *healRun) finish(ctx context.Context) {
	h.t.Helper()
	client := waitSide(ctx, h.t, h.nscNS, "nsm-1", h.kind, h.prefix)
	endpoint := waitSide(ctx, h.t, h.nseNS[h.endpointName(ctx)], "", h.kind, h.prefix)
	if !client.ips[0].Equal(h.client.ips[0]) || !endpoint.ips[0].Equal(h.endpoint.ips[0]) {
		h.t.Errorf("addresses changed: %s <-> %s, was %s <-> %s", client.ips[0], endpoint.ips[0], h.client.ips[0], h.endpoint.ips[0])
	}
	checkTraffic(ctx, h.t, client, endpoint)
	h.checkRegistrations(ctx)
	stopClean(ctx, h.t, h.m, h.nsc)
	if n := len(healBroken.FindAllString(h.nsc.Log(), -1)); n != len(healHealed.FindAllString(h.nsc.Log(), -1)) {
		h.t.Errorf("the client logged %d breaks but %d heals", n, len(healHealed.FindAllString(h.nsc.Log(), -1)))
	}
}

// atMost fails the test when the outage exceeds bound.
func atMost(t *testing.T, s mesh.PingStats, bound time.Duration) {
	t.Helper()
	if s.Outage > bound {
		t.Errorf("outage %s (from %s), want at most %s: %s", s.Outage, s.OutageStart.Format("15:04:05.000"), bound, s)
	}
}

// noLoss fails the test when a single ping was lost.
func noLoss(t *testing.T, s mesh.PingStats) {
	t.Helper()
	if s.Lost > 0 {
		t.Errorf("lost %d pings (longest outage %s from %s), want none: %s", s.Lost, s.Outage, s.OutageStart.Format("15:04:05.000"), s)
	}
}

func healContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestHealForwarderRestart: the forwarder of the client's node is killed
// and restarted; kernel objects outlive it (veth, VXLAN), so not one ping
// is lost; the userspace WireGuard tunnel dies with its process and comes
// back within a second.
func TestHealForwarderRestart(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup healSetup
		node  int // whose forwarder
	}{
		{"local", healSetup{endpointNode: 1}, 1},
		{"remote-client-side", healSetup{endpointNode: 2}, 1},
		{"remote-endpoint-side", healSetup{endpointNode: 2}, 2},
		{"wireguard-client-side", healSetup{endpointNode: 2, wireguard: true}, 1},
		{"wireguard-endpoint-side", healSetup{endpointNode: 2, wireguard: true}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := healContext(t)
			h := startHeal(ctx, t, tc.setup)
			n := h.m.Nodes[tc.node-1]
			s := h.measure(ctx, "forwarder"+fmt.Sprint(tc.node)+" killed and restarted", func() {
				if err := h.m.RestartForwarder(ctx, n, true); err != nil {
					t.Fatal(err)
				}
			})
			if tc.setup.wireguard {
				atMost(t, s, time.Second)
			} else {
				noLoss(t, s)
			}
			h.finish(ctx)
		})
	}
}

// TestHealNsmgrRestart: an nsmgr is killed and restarted; the data plane
// is not touched (0 lost pings), the client re-requests the same path, and
// a new client connects within a second of the new nsmgr serving.
func TestHealNsmgrRestart(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup healSetup
		node  int
		pause time.Duration // between the kill and the start
	}{
		{"local", healSetup{endpointNode: 1}, 1, 0},
		{"local-remote-endpoint", healSetup{endpointNode: 2}, 1, 0},
		{"remote", healSetup{endpointNode: 2}, 2, 500 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := healContext(t)
			h := startHeal(ctx, t, tc.setup)
			n := h.m.Nodes[tc.node-1]
			s := h.measure(ctx, fmt.Sprintf("nsmgr%d killed, restarted %s later", tc.node, tc.pause), func() {
				n.Nsmgr.Kill()
				time.Sleep(tc.pause)
				if err := h.m.RestartNsmgr(ctx, n, true); err != nil {
					t.Fatal(err)
				}
				if tc.node == 1 {
					newClientWithin(ctx, t, h, time.Now(), time.Second)
				}
			})
			noLoss(t, s)
			h.finish(ctx)
		})
	}
}

// newClientWithin starts a second client on node 1 and checks it is
// connected within bound of since (a restart's readiness).
func newClientWithin(ctx context.Context, t *testing.T, h *healRun, since time.Time, bound time.Duration) {
	t.Helper()
	ns, err := h.m.NetNS(ctx, "nsc2")
	if err != nil {
		t.Fatal(err)
	}
	nsc2, err := h.m.StartNSC(ctx, h.m.Nodes[0], ns, "nsc2", []string{"kernel://icmp-responder/nsm-1"})
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(since)
	t.Logf("HEAL-E2E new client connected %s after the restarted component was ready", took.Round(time.Millisecond))
	if took > bound {
		t.Errorf("a new client connected %s after the restart, want within %s", took.Round(time.Millisecond), bound)
	}
	if err := nsc2.Stop(10 * time.Second); err != nil {
		t.Errorf("nsc2: %v", err)
	}
}

// TestHealEndpointDeath: the endpoint dies with its namespace (its pod);
// another endpoint of the service takes over within a second (the liveness
// check finds the dead data plane, heal reselects).
func TestHealEndpointDeath(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup healSetup
	}{
		{"local", healSetup{endpointNode: 1, endpoints: 2}},
		{"remote", healSetup{endpointNode: 2, endpoints: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := healContext(t)
			h := startHeal(ctx, t, tc.setup)
			s := h.measure(ctx, "endpoint killed with its namespace, a second endpoint available", func() {
				h.killEndpoint(ctx)
			})
			atMost(t, s, time.Second)
			h.finish(ctx)
		})
	}
}

// TestHealRegistryRestart: the registry restarts empty; no client notices
// (not one ping lost, no heal), the registrations come back by themselves,
// and a new client connects within a second of the new registry listening.
func TestHealRegistryRestart(t *testing.T) {
	ctx := healContext(t)
	h := startHeal(ctx, t, healSetup{endpointNode: 2})
	s := h.measure(ctx, "registry restarted", func() {
		if err := h.m.RestartRegistry(ctx, true); err != nil {
			t.Fatal(err)
		}
		newClientWithin(ctx, t, h, time.Now(), time.Second)
	})
	noLoss(t, s)
	if n := len(healBroken.FindAllString(h.nsc.Log(), -1)); n != 0 {
		t.Errorf("the client healed %d times, want none: a registry restart must not disconnect clients", n)
	}
	h.finish(ctx)
}

// TestHealTwoAtOnce: two components fail together.
func TestHealTwoAtOnce(t *testing.T) {
	t.Run("nsmgr-and-forwarder", func(t *testing.T) {
		ctx := healContext(t)
		h := startHeal(ctx, t, healSetup{endpointNode: 2})
		n := h.m.Nodes[0]
		s := h.measure(ctx, "nsmgr1 and forwarder1 killed and restarted", func() {
			n.Nsmgr.Kill()
			n.Forwarder.Kill()
			if err := h.m.RestartNsmgr(ctx, n, true); err != nil {
				t.Fatal(err)
			}
			if err := h.m.RestartForwarder(ctx, n, true); err != nil {
				t.Fatal(err)
			}
		})
		noLoss(t, s)
		h.finish(ctx)
	})
	t.Run("registry-and-endpoint", func(t *testing.T) {
		ctx := healContext(t)
		h := startHeal(ctx, t, healSetup{endpointNode: 2, endpoints: 2})
		s := h.measure(ctx, "registry restarted and endpoint killed", func() {
			h.m.Registry.Kill()
			h.killEndpoint(ctx)
			if err := h.m.RestartRegistry(ctx, true); err != nil {
				t.Fatal(err)
			}
		})
		atMost(t, s, 2*time.Second)
		h.finish(ctx)
	})
}

// TestHealBrokenDataPlane: the client's interface is deleted by hand under
// a healthy control plane; only the liveness check can see it, and the
// connection is back within a second.
func TestHealBrokenDataPlane(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup healSetup
	}{
		{"local", healSetup{endpointNode: 1}},
		{"remote", healSetup{endpointNode: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := healContext(t)
			h := startHeal(ctx, t, tc.setup)
			s := h.measure(ctx, "client interface deleted by hand", func() {
				if out, err := exec.CommandContext(ctx, "ip", "-n", h.nscNS.Name, "link", "del", "nsm-1").CombinedOutput(); err != nil {
					t.Fatalf("%v: %s", err, out)
				}
			})
			atMost(t, s, time.Second)
			if n := len(healBroken.FindAllString(h.nsc.Log(), -1)); n == 0 {
				t.Error("the client did not heal, yet its interface was deleted")
			}
			h.finish(ctx)
		})
	}
}

// TestHealClientClosesWhileHealing: the client's nsmgr dies for good; the
// client heals in vain until it is told to stop, then exits at once and
// cleanly; once the nsmgr is back, the connection's leftovers expire.
func TestHealClientClosesWhileHealing(t *testing.T) {
	ctx := healContext(t)
	h := startHeal(ctx, t, healSetup{endpointNode: 2})
	n := h.m.Nodes[0]
	n.Nsmgr.Kill()
	if err := h.nsc.WaitLog(ctx, healBroken, 1); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // a few heal attempts
	start := time.Now()
	if err := h.nsc.Stop(10 * time.Second); err != nil {
		t.Errorf("nsc: %v", err)
	}
	took := time.Since(start)
	t.Logf("HEAL-E2E client stopped %s after SIGTERM while healing", took.Round(time.Millisecond))
	// Its Close has a request timeout (3 s here) to fail against the dead
	// nsmgr.
	if took > 4*time.Second {
		t.Errorf("the client took %s to stop while healing", took)
	}
	if err := h.m.RestartNsmgr(ctx, n, true); err != nil {
		t.Fatal(err)
	}
	// Nobody closes the connection now: the forwarders and the endpoint
	// close it when its tokens expire (10 s).
	if err := h.m.WaitClean(ctx); err != nil {
		t.Fatal(err)
	}
	h.checkRegistrations(ctx)
}

// TestHealClientRestart: the client process is killed and started again
// with the same name; it takes over its connections (same interface, same
// addresses) without a lost ping.
func TestHealClientRestart(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup healSetup
	}{
		{"local", healSetup{endpointNode: 1}},
		{"remote", healSetup{endpointNode: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := healContext(t)
			h := startHeal(ctx, t, tc.setup)
			s := h.measure(ctx, "client killed and restarted", func() {
				h.nsc.Kill()
				nsc, err := h.m.StartNSC(ctx, h.m.Nodes[0], h.nscNS, "nsc", []string{"kernel://icmp-responder/nsm-1"})
				if err != nil {
					t.Fatal(err)
				}
				h.nsc = nsc
			})
			noLoss(t, s)
			h.finish(ctx)
		})
	}
}
