// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package spire

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nsmesh/nsmesh/test/internal/mesh"
)

const trustDomain = "nsmesh.test"

// svidTTL is short so that every process sees its SVID rotated (at half of
// it, within the agent's 5s sync) while the connection is up.
const svidTTL = 30 * time.Second

// Log lines the test looks for.
var (
	rotated     = regexp.MustCompile(`SVID rotated by the Workload API`)
	established = regexp.MustCompile(`msg="connection established"`)
	refreshed   = regexp.MustCompile(`msg="connection refreshed"`)
	closed      = regexp.MustCompile(`msg="connection closed"`)
	// Anything that means a connection or a refresh was lost: a failed
	// refresh, a heal, a refused request.
	trouble = regexp.MustCompile(`refresh of .* failed|connection broken|connection healed|request refused|msg="close"`)
	// The plaintext development mode must not be used anywhere.
	insecureMode = regexp.MustCompile(`insecure: no TLS`)
)

// startSPIRE starts SPIRE for t and takes it down when t ends, printing
// its logs when t failed.
func startSPIRE(ctx context.Context, t *testing.T) *SPIRE {
	t.Helper()
	s, err := Start(ctx, Config{Bin: spireBin, TrustDomain: trustDomain, X509SVIDTTL: svidTTL})
	if err != nil {
		t.Fatal(err)
	}
	track(s, s.Close)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs of SPIRE (last lines):\n%s", s.Logs(60))
		}
		untrack(s)
		if err := s.Close(); err != nil {
			t.Errorf("closing SPIRE: %v", err)
		}
	})
	return s
}

// component is an nsmesh binary and the SPIFFE ID its entry gives it.
type component struct {
	kind, bin string
}

func (c component) spiffeID() string { return fmt.Sprintf("spiffe://%s/%s", trustDomain, c.kind) }

// registerComponents creates one workload entry per binary, selected by
// its path: every process runs as root, so the uid tells them apart no
// more than anything else the unix attestor sees.
func registerComponents(ctx context.Context, t *testing.T, s *SPIRE) []component {
	t.Helper()
	comps := []component{
		{"registry", bin.Registry}, {"nsmgr", bin.Nsmgr}, {"forwarder", bin.Forwarder},
		{"nse", bin.NSE}, {"nsc", bin.NSC},
	}
	for i, c := range comps {
		// The agent sees the path the kernel resolved (/proc/<pid>/exe).
		path, err := filepath.EvalSymlinks(c.bin)
		if err == nil {
			path, err = filepath.Abs(path)
		}
		if err != nil {
			t.Fatal(err)
		}
		comps[i].bin = path
		if err := s.CreateEntry(ctx, c.spiffeID(), "unix:path:"+path); err != nil {
			t.Fatal(err)
		}
	}
	return comps
}

// startMesh starts the two-node mesh with every process on the agent's
// Workload API and takes it down when t ends, printing the logs when t
// failed.
func startMesh(ctx context.Context, t *testing.T, s *SPIRE) *mesh.Mesh {
	t.Helper()
	m, err := mesh.Start(ctx, mesh.Config{
		Bin:    bin,
		Prefix: mesh.NewPrefix(prefixRoot),
		// The last value of a variable counts: these replace the
		// harness's NSM_INSECURE=true.
		Env: []string{"NSM_INSECURE=false", "SPIFFE_ENDPOINT_SOCKET=" + s.WorkloadAPI()},
	})
	if err != nil {
		t.Fatal(err)
	}
	track(m, m.Close)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs of the mesh (last lines of each process):\n%s", m.Logs(80))
		}
		untrack(m)
		if err := m.Close(); err != nil {
			t.Errorf("closing the mesh: %v", err)
		}
	})
	return m
}

// waitAddr waits for an interface in ns with an address in prefix and
// returns it with that address.
func waitAddr(ctx context.Context, t *testing.T, ns *mesh.NetNS, prefix *net.IPNet) (mesh.Link, net.IP) {
	t.Helper()
	l, err := mesh.WaitLink(ctx, ns, func(l mesh.Link) error {
		if !l.Up {
			return fmt.Errorf("down")
		}
		if l.AddrIn(prefix) == nil {
			return fmt.Errorf("no address in %s (has %v)", prefix, l.Addrs)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return l, l.AddrIn(prefix)
}

func pingBothWays(ctx context.Context, t *testing.T, nscNS, nseNS *mesh.NetNS, nscIP, nseIP net.IP) {
	t.Helper()
	if err := mesh.Ping(ctx, nscNS, nseIP, 3); err != nil {
		t.Fatalf("client -> endpoint: %v", err)
	}
	if err := mesh.Ping(ctx, nseNS, nscIP, 3); err != nil {
		t.Fatalf("endpoint -> client: %v", err)
	}
}

// count returns how many lines of p's log match re.
func count(p *mesh.Proc, re *regexp.Regexp) int { return len(re.FindAllString(p.Log(), -1)) }

// TestRemoteConnectionAcrossRotations runs the whole mesh on SVIDs from a
// real SPIRE agent: a client on node 1 connects to an ICMP endpoint on
// node 2 (every hop mTLS, every path token signed with a Workload API
// SVID), then every process sees its SVID rotated and the connection must
// survive it: refreshed end to end after the rotations, never closed or
// re-established at the endpoint, never healed at the client, traffic
// flowing.
func TestRemoteConnectionAcrossRotations(t *testing.T) {
	if skipReason != "" {
		t.Skip(skipReason)
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), 150*time.Second)
	defer cancel()

	s := startSPIRE(ctx, t)
	comps := registerComponents(ctx, t, s)
	t.Logf("SPIRE up with %d entries in %s", len(comps), time.Since(start).Round(time.Millisecond))

	m := startMesh(ctx, t, s)
	v4 := mustCIDR(t, "172.16.1.0/24")
	nseNS, err := m.NetNS(ctx, "nse")
	if err != nil {
		t.Fatal(err)
	}
	// DEBUG: the endpoint logs every refresh it serves.
	nse, err := m.StartNSE(ctx, m.Nodes[1], nseNS, "nse-icmp", "NSM_CIDR_PREFIX="+v4.String(), "NSM_LOG_LEVEL=DEBUG")
	if err != nil {
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
	nscLink, nscIP := waitAddr(ctx, t, nscNS, v4)
	nseLink, nseIP := waitAddr(ctx, t, nseNS, v4)
	pingBothWays(ctx, t, nscNS, nseNS, nscIP, nseIP)
	connected := time.Now()
	t.Logf("connected (%s %s <-> %s) and pinging %s after start", nscLink.Kind, nscIP, nseIP, connected.Sub(start).Round(time.Millisecond))

	procs := []*mesh.Proc{m.Registry, nse, nsc}
	for _, n := range m.Nodes {
		procs = append(procs, n.Nsmgr, n.Forwarder)
	}
	// Every process runs on the SVID of its entry, none in plaintext.
	ids := map[string]string{
		m.Registry.Name: comps[0].spiffeID(), nse.Name: comps[3].spiffeID(), nsc.Name: comps[4].spiffeID(),
	}
	for _, n := range m.Nodes {
		ids[n.Nsmgr.Name], ids[n.Forwarder.Name] = comps[1].spiffeID(), comps[2].spiffeID()
	}
	for _, p := range procs {
		want := regexp.MustCompile(`msg="identity: mTLS with X.509-SVID".*spiffe_id="` + regexp.QuoteMeta(ids[p.Name]) + `"`)
		if log := p.Log(); !want.MatchString(log) || insecureMode.MatchString(log) {
			t.Errorf("%s does not run on its Workload API SVID %s (log: %s)", p.Name, ids[p.Name], p.LogPath)
		}
	}

	// Every process must see at least one rotation (at half of the TTL
	// after issue, plus the agent's sync), then a refresh must still pass
	// every hop to the endpoint.
	for _, p := range procs {
		if err := p.WaitLog(ctx, rotated, 1); err != nil {
			t.Fatal(err)
		}
	}
	allRotated := time.Now()
	t.Logf("every process rotated its SVID %s after the connection", allRotated.Sub(connected).Round(time.Millisecond))
	before := count(nse, refreshed)
	if err := nse.WaitLog(ctx, refreshed, before+1); err != nil {
		t.Fatalf("no refresh reached the endpoint after the rotations: %v", err)
	}
	t.Logf("refreshed end to end %s after the last rotation", time.Since(allRotated).Round(time.Millisecond))
	pingBothWays(ctx, t, nscNS, nseNS, nscIP, nseIP)
	if _, err := mesh.TCPEcho(ctx, nseNS, nseIP, nscNS, 1<<20); err != nil {
		t.Fatal(err)
	}

	// The connection was never lost: same interfaces, one establishment,
	// no close, no heal, no failed refresh anywhere.
	if l, ip := waitAddr(ctx, t, nscNS, v4); l.Name != nscLink.Name || !ip.Equal(nscIP) {
		t.Errorf("client interface changed: %s %s, was %s %s", l.Name, ip, nscLink.Name, nscIP)
	}
	if l, ip := waitAddr(ctx, t, nseNS, v4); l.Name != nseLink.Name || !ip.Equal(nseIP) {
		t.Errorf("endpoint interface changed: %s %s, was %s %s", l.Name, ip, nseLink.Name, nseIP)
	}
	if n := count(nse, established); n != 1 {
		t.Errorf("the endpoint established the connection %d times, want 1", n)
	}
	if n := count(nse, closed); n != 0 {
		t.Errorf("the endpoint closed the connection %d times before the client stopped, want 0", n)
	}
	for _, p := range procs {
		if found := trouble.FindAllString(p.Log(), -1); len(found) > 0 {
			t.Errorf("%s logged a lost connection or refresh: %s (log: %s)", p.Name, strings.Join(found, "; "), p.LogPath)
		}
		t.Logf("%s: %d SVID rotations", p.Name, count(p, rotated))
	}
	t.Logf("endpoint: %d refreshes", count(nse, refreshed))

	// A clean stop still closes the connection through every hop.
	if err := nsc.Stop(10 * time.Second); err != nil {
		t.Errorf("nsc: %v", err)
	}
	if err := nse.WaitLog(ctx, closed, 1); err != nil {
		t.Error(err)
	}
	if err := m.WaitClean(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("total %s", time.Since(start).Round(time.Millisecond))
}

func mustCIDR(t *testing.T, s string) *net.IPNet {
	t.Helper()
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
