// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package spire

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/nsmesh/nsmesh/test/internal/mesh"
)

const trustDomain = "nsmesh.test"

// svidTTL is short so that every process sees its SVID rotated (at half of
// it, within the agent's sync) while the connection is up.
const svidTTL = 30 * time.Second

// rotations is how many SVID rotations every process must go through with
// the connection up.
const rotations = 2

// Log lines the test looks for.
var (
	rotated     = regexp.MustCompile(`SVID rotated by the Workload API`)
	established = regexp.MustCompile(`msg="connection established"`)
	refreshed   = regexp.MustCompile(`msg="connection refreshed"`)
	closed      = regexp.MustCompile(`msg="connection closed"`)
	refused     = regexp.MustCompile(`msg="request refused"`)
	// What a rotation may cost without losing the connection: a heal (a
	// new Request on the same path) at the client, a refresh retried.
	healed        = regexp.MustCompile(`connection broken \((.*?)\): requesting`)
	refreshFailed = regexp.MustCompile(`refresh (of \S+ )?failed`)
	// The plaintext development mode must not be used anywhere.
	insecureMode = regexp.MustCompile(`insecure: no TLS`)
)

// component is an nsmesh binary and the SPIFFE ID its entry gives it.
type component struct {
	kind, bin string
}

func (c component) spiffeID() string { return fmt.Sprintf("spiffe://%s/%s", trustDomain, c.kind) }

// components returns the five binaries with the entries that select them
// by path: every process runs as root, so the uid tells them apart no more
// than anything else the unix attestor sees.
func components(t *testing.T) ([]component, []Entry) {
	t.Helper()
	comps := []component{
		{"registry", bin.Registry}, {"nsmgr", bin.Nsmgr}, {"forwarder", bin.Forwarder},
		{"nse", bin.NSE}, {"nsc", bin.NSC},
	}
	var entries []Entry
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
		entries = append(entries, Entry{SPIFFEID: c.spiffeID(), Selectors: []string{"unix:path:" + path}})
	}
	return comps, entries
}

// startSPIRE starts SPIRE with entries for t and takes it down when t
// ends, printing its logs when t failed.
func startSPIRE(ctx context.Context, t *testing.T, entries []Entry) *SPIRE {
	t.Helper()
	s, err := Start(ctx, Config{
		Bin: spireBin, Dir: tempDir(t, "spire-"), TrustDomain: trustDomain, X509SVIDTTL: svidTTL, Entries: entries,
		// New SVIDs (the first ones and rotations) within a second.
		SyncInterval: time.Second,
	})
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

// startMesh starts the two-node mesh with every process on the agent's
// Workload API and takes it down when t ends, printing the logs when t
// failed.
func startMesh(ctx context.Context, t *testing.T, s *SPIRE) *mesh.Mesh {
	t.Helper()
	m, err := mesh.Start(ctx, mesh.Config{
		Bin:    bin,
		Prefix: mesh.NewPrefix(prefixRoot),
		Dir:    tempDir(t, "mesh-"),
		// The last value of a variable counts: these replace the
		// harness's NSM_INSECURE=true. Short tokens: refreshes (every
		// third of their lifetime) cross the rotations often, and a
		// connection whose refreshes fail expires within the test.
		Env: []string{"NSM_INSECURE=false", "SPIFFE_ENDPOINT_SOCKET=" + s.WorkloadAPI(), "NSM_MAX_TOKEN_LIFETIME=10s", "NSM_REQUEST_TIMEOUT=3s"},
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
// SVID), then every process sees its SVID rotated twice and the connection
// must survive: refreshed end to end after the rotations, never closed or
// established again at the endpoint, the same interfaces, traffic flowing.
func TestRemoteConnectionAcrossRotations(t *testing.T) {
	if skipReason != "" {
		t.Skip(skipReason)
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), 150*time.Second)
	defer cancel()

	comps, entries := components(t)
	s := startSPIRE(ctx, t, entries)
	t.Logf("SPIRE server and agent up with %d entries in %s", len(entries), time.Since(start).Round(time.Millisecond))

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
	t.Logf("connected (%s %s <-> %s) and pinging %s after the start", nscLink.Kind, nscIP, nseIP, connected.Sub(start).Round(time.Millisecond))

	procs := []*mesh.Proc{m.Registry, nse, nsc}
	ids := map[*mesh.Proc]string{m.Registry: comps[0].spiffeID(), nse: comps[3].spiffeID(), nsc: comps[4].spiffeID()}
	for _, n := range m.Nodes {
		procs = append(procs, n.Nsmgr, n.Forwarder)
		ids[n.Nsmgr], ids[n.Forwarder] = comps[1].spiffeID(), comps[2].spiffeID()
	}
	// Every process runs on the SVID of its entry, none in plaintext.
	for _, p := range procs {
		want := regexp.MustCompile(`msg="identity: mTLS with X.509-SVID".*spiffe_id="` + regexp.QuoteMeta(ids[p]) + `"`)
		if log := p.Log(); !want.MatchString(log) || insecureMode.MatchString(log) {
			t.Errorf("%s does not run on the Workload API SVID %s (log: %s)", p.Name, ids[p], p.LogPath)
		}
	}

	// Rotations come at half of an SVID's lifetime, within the agent's
	// sync; a second round checks that a connection made after a rotation
	// survives the next one too.
	for _, p := range procs {
		if err := p.WaitLog(ctx, rotated, rotations); err != nil {
			t.Fatal(err)
		}
	}
	allRotated := time.Now()
	t.Logf("every process rotated its SVID %d times, %s after the connection", rotations, allRotated.Sub(connected).Round(time.Millisecond))
	// Refreshes made after the rotations (not only heals, which the
	// endpoint also sees as refreshes) reach the endpoint.
	if err := waitPlainRefreshes(ctx, nse, nsc, 2); err != nil {
		t.Fatal(err)
	}
	t.Logf("refreshes (not heals) reached the endpoint %s after the last rotation", time.Since(allRotated).Round(time.Millisecond))
	pingBothWays(ctx, t, nscNS, nseNS, nscIP, nseIP)
	if _, err := mesh.TCPEcho(ctx, nseNS, nseIP, nscNS, 1<<20); err != nil {
		t.Fatal(err)
	}

	// The connection was never lost: the same interfaces and addresses, one
	// establishment and no close at the endpoint, nothing refused.
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
	if n := count(nse, refused); n != 0 {
		t.Errorf("the endpoint refused %d requests, want 0", n)
	}
	// What the rotations cost on the way, for the report: heals at the
	// client (a new Request on the same path, which the endpoint sees as a
	// refresh) and retried refreshes.
	for _, p := range procs {
		log := p.Log()
		var costs []string
		for _, h := range healed.FindAllStringSubmatch(log, -1) {
			costs = append(costs, "heal: "+h[1])
		}
		costs = append(costs, refreshFailed.FindAllString(log, -1)...)
		t.Logf("%s: %d SVID rotations; %d heals or retried refreshes %q", p.Name, count(p, rotated), len(costs), costs)
	}
	t.Logf("endpoint: %d refreshes served", count(nse, refreshed))

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

// waitPlainRefreshes waits until the endpoint has served n refreshes more
// than the client started heals since the call: a heal's re-request
// reaches the endpoint as a refresh (and only the client heals), so the
// surplus are refreshes of the client's own timer, which have crossed every
// hop.
func waitPlainRefreshes(ctx context.Context, nse, nsc *mesh.Proc, n int) error {
	heals0, refreshes0 := count(nsc, healed), count(nse, refreshed)
	return mesh.Poll(ctx, 50*time.Millisecond, func() error {
		h, r := count(nsc, healed)-heals0, count(nse, refreshed)-refreshes0
		if r-h >= n {
			return nil
		}
		return fmt.Errorf("the endpoint served %d refreshes while the client started %d heals: want %d refreshes of the client's own", r, h, n)
	})
}

func mustCIDR(t *testing.T, s string) *net.IPNet {
	t.Helper()
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
