// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package e2e

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nsmesh/nsmesh/test/internal/mesh"
)

// echoSize is what the TCP transfer sends and gets back.
const echoSize = 1 << 20

// Fast refresh and expiry, so that restarts and kills resolve in seconds:
// clients refresh every 2s (a fifth of the token lifetime).
var shortTokens = []string{"NSM_MAX_TOKEN_LIFETIME=10s", "NSM_REQUEST_TIMEOUT=3s"}

func mustCIDR(t *testing.T, s string) *net.IPNet {
	t.Helper()
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// side is one end of a connection: the interface in a workload namespace.
type side struct {
	ns   *mesh.NetNS
	link mesh.Link
	ips  []net.IP // one per prefix
}

// waitSide waits for an interface in ns (named name, unless empty) with an
// address in every prefix and of kind kind.
func waitSide(ctx context.Context, t *testing.T, ns *mesh.NetNS, name, kind string, prefixes ...*net.IPNet) side {
	t.Helper()
	s := side{ns: ns}
	l, err := mesh.WaitLink(ctx, ns, func(l mesh.Link) error {
		if name != "" && l.Name != name {
			return fmt.Errorf("not %s", name)
		}
		if l.Kind != kind {
			return fmt.Errorf("kind %s, want %s", l.Kind, kind)
		}
		if !l.Up {
			return fmt.Errorf("down")
		}
		for _, p := range prefixes {
			if l.AddrIn(p) == nil {
				return fmt.Errorf("no address in %s (has %v)", p, l.Addrs)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s.link = l
	for _, p := range prefixes {
		s.ips = append(s.ips, l.AddrIn(p))
	}
	return s
}

// checkTraffic pings both ways on every address family and sends 1 MiB
// over TCP from the client to the endpoint and back.
func checkTraffic(ctx context.Context, t *testing.T, client, endpoint side) {
	t.Helper()
	for i := range client.ips {
		if err := mesh.Ping(ctx, client.ns, endpoint.ips[i], 3); err != nil {
			t.Fatalf("client -> endpoint: %v", err)
		}
		if err := mesh.Ping(ctx, endpoint.ns, client.ips[i], 3); err != nil {
			t.Fatalf("endpoint -> client: %v", err)
		}
	}
	took, err := mesh.TCPEcho(ctx, endpoint.ns, endpoint.ips[0], client.ns, echoSize)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s %s <-> %s: ping both ways; 1 MiB TCP echo in %s", client.link.Kind, client.ips, endpoint.ips, took.Round(time.Millisecond))
}

// stopClean stops the client with SIGTERM, expects exit status 0, and waits
// until no interface of the mesh is left in any namespace.
func stopClean(ctx context.Context, t *testing.T, m *mesh.Mesh, nsc *mesh.Proc) {
	t.Helper()
	if err := nsc.Stop(10 * time.Second); err != nil {
		t.Errorf("nsc: %v", err)
	}
	if err := m.WaitClean(ctx); err != nil {
		t.Fatal(err)
	}
}

func testConnection(t *testing.T, cfg mesh.Config, endpointNode int, kind string) {
	m := newMesh(t, cfg)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	v4, v6 := mustCIDR(t, "172.16.1.0/24"), mustCIDR(t, "fd00:16:1::/64")

	nseNS, err := m.NetNS(ctx, "nse")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.StartNSE(ctx, m.Nodes[endpointNode-1], nseNS, "nse-icmp", "NSM_CIDR_PREFIX="+v4.String()+","+v6.String()); err != nil {
		t.Fatal(err)
	}
	nscNS, err := m.NetNS(ctx, "nsc")
	if err != nil {
		t.Fatal(err)
	}
	nsc, err := m.StartNSC(ctx, m.Nodes[0], nscNS, "nsc", []string{"kernel://icmp-responder/nsm-1"})
	if err != nil {
		t.Fatal(err)
	}
	client := waitSide(ctx, t, nscNS, "nsm-1", kind, v4, v6)
	endpoint := waitSide(ctx, t, nseNS, "", kind, v4, v6)
	if kind == "vxlan" && (client.link.MTU != 1450 || endpoint.link.MTU != 1450) {
		t.Errorf("vxlan MTUs %d and %d, want 1450 (underlay 1500 - 50)", client.link.MTU, endpoint.link.MTU)
	}
	checkTraffic(ctx, t, client, endpoint)
	if cfg.MTLS {
		if logs := m.Logs(1000); strings.Contains(logs, "insecure") {
			t.Errorf("a process runs without TLS although every one has an SVID:\n%s", logs)
		}
	}
	stopClean(ctx, t, m, nsc)
}

// TestLocal: client and endpoint on node 1 get the two ends of a veth pair.
func TestLocal(t *testing.T) { testConnection(t, mesh.Config{}, 1, "veth") }

// TestRemote: client on node 1, endpoint on node 2, joined by VXLAN over
// the underlay.
func TestRemote(t *testing.T) { testConnection(t, mesh.Config{}, 2, "vxlan") }

// TestRemoteMTLS: the remote connection with every process holding an
// X.509-SVID of a development CA (nsmctl devca), so every hop is mutual TLS
// and every path token is signed with an SVID key.
func TestRemoteMTLS(t *testing.T) { testConnection(t, mesh.Config{MTLS: true}, 2, "vxlan") }

// TestTwoServices: one client joins red (endpoint on its node) and green
// (endpoint on the other node) and gets one interface for each.
func TestTwoServices(t *testing.T) {
	m := newMesh(t, mesh.Config{})
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	services := []struct {
		name, cidr, ifname, kind string
		node                     int
	}{
		{"red", "172.16.1.0/24", "nsm-red", "veth", 1},
		{"green", "172.16.2.0/24", "nsm-green", "vxlan", 2},
	}
	var urls []string
	nses := map[string]*mesh.NetNS{}
	for _, s := range services {
		ns, err := m.NetNS(ctx, "nse-"+s.name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.StartNSE(ctx, m.Nodes[s.node-1], ns, "nse-"+s.name,
			"NSM_SERVICE_NAMES="+s.name, "NSM_CIDR_PREFIX="+s.cidr); err != nil {
			t.Fatal(err)
		}
		nses[s.name] = ns
		urls = append(urls, "kernel://"+s.name+"/"+s.ifname)
	}
	nscNS, err := m.NetNS(ctx, "nsc")
	if err != nil {
		t.Fatal(err)
	}
	nsc, err := m.StartNSC(ctx, m.Nodes[0], nscNS, "nsc", urls)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range services {
		p := mustCIDR(t, s.cidr)
		client := waitSide(ctx, t, nscNS, s.ifname, s.kind, p)
		endpoint := waitSide(ctx, t, nses[s.name], "", s.kind, p)
		checkTraffic(ctx, t, client, endpoint)
	}
	if names, err := nscNS.LinkNames(); err != nil || strings.Join(names, " ") != "lo nsm-green nsm-red" {
		t.Errorf("client interfaces %v (%v), want lo nsm-green nsm-red", names, err)
	}
	stopClean(ctx, t, m, nsc)
}

// TestForwarderRestart: a forwarder killed with SIGKILL leaves its
// interfaces working; restarted, it adopts them on the client's next
// refresh, and the client's Close removes them. When the client dies too,
// the restarted forwarder deletes what nobody claimed after the adoption
// grace, and the other node's side goes when the connection expires.
func TestForwarderRestart(t *testing.T) {
	const grace = 3 * time.Second
	m := newMesh(t, mesh.Config{
		Env:          []string{"NSM_MAX_TOKEN_LIFETIME=10s"},
		ForwarderEnv: []string{"NSM_ADOPTION_GRACE=" + grace.String(), "NSM_LOG_LEVEL=DEBUG"},
	})
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	v4 := mustCIDR(t, "172.16.1.0/24")
	nseNS, err := m.NetNS(ctx, "nse")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.StartNSE(ctx, m.Nodes[1], nseNS, "nse-icmp", "NSM_CIDR_PREFIX="+v4.String()); err != nil {
		t.Fatal(err)
	}
	nscNS, err := m.NetNS(ctx, "nsc")
	if err != nil {
		t.Fatal(err)
	}
	fwd := m.Nodes[0]
	adopted := regexp.MustCompile(`kernel: adopted vxlan`)
	pruned := regexp.MustCompile(`kernelxc: pruned unclaimed links`)

	if !t.Run("adopt", func(t *testing.T) {
		nsc, err := m.StartNSC(ctx, fwd, nscNS, "nsc", []string{"kernel://icmp-responder/nsm-1"}, shortTokens...)
		if err != nil {
			t.Fatal(err)
		}
		client := waitSide(ctx, t, nscNS, "nsm-1", "vxlan", v4)
		endpoint := waitSide(ctx, t, nseNS, "", "vxlan", v4)
		if err := mesh.Ping(ctx, client.ns, endpoint.ips[0], 1); err != nil {
			t.Fatal(err)
		}
		fwd.Forwarder.Kill()
		if err := mesh.Ping(ctx, client.ns, endpoint.ips[0], 2); err != nil {
			t.Fatalf("traffic stopped with the forwarder: %v", err)
		}
		before := len(adopted.FindAllString(fwd.Forwarder.Log(), -1))
		if err := m.RestartForwarder(ctx, fwd, false); err != nil {
			t.Fatal(err)
		}
		// The client's next refresh goes through the new forwarder.
		if err := fwd.Forwarder.WaitLog(ctx, adopted, before+1); err != nil {
			t.Fatal(err)
		}
		if err := fwd.Forwarder.WaitLog(ctx, pruned, 1); err != nil {
			t.Fatal(err)
		}
		after := waitSide(ctx, t, nscNS, "nsm-1", "vxlan", v4)
		if after.link.Alias != client.link.Alias || !after.ips[0].Equal(client.ips[0]) {
			t.Errorf("after the restart the client has %+v, want the adopted %+v", after.link, client.link)
		}
		checkTraffic(ctx, t, after, endpoint)
		stopClean(ctx, t, m, nsc)
	}) {
		return
	}

	t.Run("prune", func(t *testing.T) {
		nsc, err := m.StartNSC(ctx, fwd, nscNS, "nsc2", []string{"kernel://icmp-responder/nsm-1"}, shortTokens...)
		if err != nil {
			t.Fatal(err)
		}
		client := waitSide(ctx, t, nscNS, "nsm-1", "vxlan", v4)
		endpoint := waitSide(ctx, t, nseNS, "", "vxlan", v4)
		checkTraffic(ctx, t, client, endpoint)
		fwd.Forwarder.Kill()
		nsc.Kill()
		prunes := len(pruned.FindAllString(fwd.Forwarder.Log(), -1))
		start := time.Now()
		if err := m.RestartForwarder(ctx, fwd, false); err != nil {
			t.Fatal(err)
		}
		if err := fwd.Forwarder.WaitLog(ctx, pruned, prunes+1); err != nil {
			t.Fatal(err)
		}
		if err := m.WaitClean(ctx); err != nil {
			t.Fatal(err)
		}
		t.Logf("all interfaces gone %s after the restart", time.Since(start).Round(100*time.Millisecond))
	})
}
