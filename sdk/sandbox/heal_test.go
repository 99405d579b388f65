// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package sandbox_test

import (
	"context"
	"errors"
	"io"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/chains/client"
	"github.com/nsmesh/nsmesh/sdk/networkservice/heal"
	"github.com/nsmesh/nsmesh/sdk/sandbox"
	"github.com/nsmesh/nsmesh/sdk/tools/grpcutils"
)

// fakeLiveness is the data plane check of the sandbox's clients: the fake
// data planes have no packets, so a connection's data plane counts as alive
// while every forwarder on its path holds its pair (kernel objects outlive
// the forwarder process, so a killed forwarder keeps them) and its endpoint
// was not killed (its interface died with it).
type fakeLiveness struct {
	d *sandbox.Domain

	mu       sync.Mutex
	deadNSEs map[string]bool
}

func (l *fakeLiveness) forwarder(name string) *sandbox.Forwarder {
	for _, n := range l.d.Nodes {
		for _, f := range n.Forwarders {
			if f.Name() == name {
				return f
			}
		}
	}
	return nil
}

func (l *fakeLiveness) check(ctx context.Context, conn *networkservice.Connection) bool {
	segs := conn.GetPath().GetPathSegments()
	if ctx.Err() != nil || len(segs) == 0 {
		return false
	}
	for _, seg := range segs {
		if f := l.forwarder(seg.GetName()); f != nil {
			if _, ok := f.Dataplane.Programmed()[seg.GetId()]; !ok {
				return false
			}
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return !l.deadNSEs[segs[len(segs)-1].GetName()]
}

// healed is one scenario: a domain, a client with heal and its connection,
// and what was killed for good.
type healed struct {
	t      *testing.T
	ctx    context.Context
	d      *sandbox.Domain
	live   *fakeLiveness
	hook   *logtest.Hook
	logger *logrus.Logger
	nsc    networkservice.NetworkServiceClient
	conn   *networkservice.Connection
	client *sandbox.Node
	gone   map[string]bool // components stopped for good
	before int             // goroutines with the connection established
	// baseline ignores the goroutines that ran when before was counted.
	baseline goleak.Option
}

func newHealed(t *testing.T, opts ...sandbox.Option) *healed {
	t.Helper()
	ctx, d := setup(t, &registry.NetworkService{Name: "red"}, opts...)
	logger, hook := logtest.NewNullLogger()
	logger.SetLevel(logrus.DebugLevel)
	if testing.Verbose() {
		logger.SetOutput(&testWriter{t: t})
	}
	return &healed{t: t, ctx: ctx, d: d, live: &fakeLiveness{d: d, deadNSEs: map[string]bool{}}, hook: hook, logger: logger, gone: map[string]bool{}}
}

type testWriter struct{ t *testing.T }

func (w *testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// connect requests "red" from a client with heal on node.
func (h *healed) connect(node *sandbox.Node) {
	h.t.Helper()
	hl, err := heal.NewClient(h.ctx,
		heal.WithLivenessCheck(h.live.check),
		heal.WithLogger(h.logger.WithField("component", "heal")))
	if err != nil {
		h.t.Fatal(err)
	}
	h.client = node
	h.nsc = mustClient(h.ctx, h.t, node, "nsc", client.WithHeal(hl))
	// Forwarders register in the background: a client started with the
	// domain retries, as cmd-nsc does.
	deadline := time.Now().Add(5 * time.Second)
	for h.conn, err = h.nsc.Request(h.ctx, request("red")); err != nil; h.conn, err = h.nsc.Request(h.ctx, request("red")) {
		if time.Now().After(deadline) {
			h.t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.t.Cleanup(func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _ = h.nsc.Close(closeCtx, h.conn)
	})
	h.waitUp(5 * time.Second)
	h.before = settledGoroutines()
	h.baseline = goleak.IgnoreCurrent()
}

// path returns the connection as the client's nsmgr holds it, failing when
// it is not UP there.
func (h *healed) path() *networkservice.Connection {
	h.t.Helper()
	c, err := h.snapshot()
	if err != nil {
		h.t.Fatalf("connection at the nsmgr: %v", err)
	}
	return c
}

func (h *healed) snapshot() (*networkservice.Connection, error) {
	cc, err := grpc.NewClient(grpcutils.Target(h.client.NSMgr.UnixURL()), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(h.ctx, time.Second)
	defer cancel()
	own := h.conn.GetPath().GetPathSegments()[0]
	stream, err := networkservice.NewMonitorConnectionClient(cc).MonitorConnections(ctx, &networkservice.MonitorScopeSelector{
		PathSegments: []*networkservice.PathSegment{{Id: own.GetId(), Name: own.GetName()}},
	})
	if err != nil {
		return nil, err
	}
	ev, err := stream.Recv()
	if err != nil {
		return nil, err
	}
	for _, c := range ev.GetConnections() {
		if c.GetState() == networkservice.State_DOWN {
			return nil, errors.New("the connection is DOWN")
		}
		return c, nil
	}
	return nil, errors.New("the nsmgr does not hold the connection")
}

// waitUp waits until the nsmgr holds the connection UP with a live data plane.
func (h *healed) waitUp(d time.Duration) *networkservice.Connection {
	h.t.Helper()
	deadline := time.Now().Add(d)
	for {
		c, err := h.snapshot()
		if err == nil && h.live.check(h.ctx, c) {
			return c
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("connection not UP within %v: %v", d, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// heals waits for the client to report its connection healed after since
// and returns how long after since that was.
func (h *healed) heals(since time.Time, within time.Duration) time.Duration {
	h.t.Helper()
	deadline := time.Now().Add(within)
	for {
		for _, e := range h.hook.AllEntries() {
			if e.Message == "connection healed" && e.Time.After(since) {
				h.waitUp(5 * time.Second)
				return e.Time.Sub(since)
			}
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("not healed within %v; heal said: %s", within, h.healLog())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (h *healed) healLog() string {
	var lines []string
	for _, e := range h.hook.AllEntries() {
		lines = append(lines, e.Time.Format("15:04:05.000")+" "+e.Message)
	}
	return strings.Join(lines, "\n")
}

// broke reports how many times heal saw the connection broken.
func (h *healed) broke() int {
	n := 0
	for _, e := range h.hook.AllEntries() {
		if strings.HasPrefix(e.Message, "connection broken") {
			n++
		}
	}
	return n
}

// stop kills a component for good (no graceful unregistration: the
// sandbox's Stop cancels the component's context like a crash).
func (h *healed) stopForwarder(f *sandbox.Forwarder) {
	f.Stop()
	h.gone[f.Name()] = true
}

func (h *healed) stopEndpoint(e *sandbox.Endpoint) {
	e.Stop()
	h.gone[e.Name()] = true
	h.live.mu.Lock()
	h.live.deadNSEs[e.Name()] = true
	h.live.mu.Unlock()
}

// verify checks what every scenario must leave behind: the connection UP
// with a live data plane; exactly the live forwarders' and endpoints'
// registrations; the live forwarders programming only the connection's
// pairs; each live hop holding the connection once; no more goroutines.
func (h *healed) verify() {
	h.t.Helper()
	c := h.waitUp(5 * time.Second)
	onPath := map[string]string{}
	for _, s := range c.GetPath().GetPathSegments() {
		onPath[s.GetName()] = s.GetId()
	}

	want := map[string]bool{}
	for _, n := range h.d.Nodes {
		for _, f := range n.Forwarders {
			if !h.gone[f.Name()] {
				want[f.Name()] = true
			}
		}
		for _, e := range n.Endpoints {
			if !h.gone[e.Name()] {
				want[e.Name()] = true
			}
		}
	}
	h.eventually(10*time.Second, "registrations of exactly the live components", func() (bool, string) {
		got, err := h.registered()
		if err != nil {
			return false, err.Error()
		}
		return maps.Equal(got, want), strings.Join(slices.Sorted(maps.Keys(got)), ",")
	})

	for _, n := range h.d.Nodes {
		for _, f := range n.Forwarders {
			if h.gone[f.Name()] {
				continue
			}
			prog := f.Dataplane.Programmed()
			id, on := onPath[f.Name()]
			for got := range prog {
				if !on || got != id {
					h.t.Fatalf("%s still programs %s; the connection's pair there is %q", f.Name(), got, id)
				}
			}
			if on && len(prog) != 1 {
				h.t.Fatalf("%s is on the path but programs %d pairs", f.Name(), len(prog))
			}
			if l := f.Current.Begin.Len(); on && l != 1 || !on && l != 0 {
				h.t.Fatalf("%s holds %d connections (on the path: %v)", f.Name(), l, on)
			}
		}
		for _, e := range n.Endpoints {
			if h.gone[e.Name()] {
				continue
			}
			_, on := onPath[e.Name()]
			if l := e.Current.Begin.Len(); on && l != 1 || !on && l != 0 {
				h.t.Fatalf("%s holds %d connections (on the path: %v)", e.Name(), l, on)
			}
		}
		_, on := onPath[n.NSMgr.Current.Name()]
		h.eventually(5*time.Second, n.NSMgr.Current.Name()+" holding the connection once", func() (bool, string) {
			l := n.NSMgr.Current.Begin.Len()
			return on && l == 1 || !on && l == 0, ""
		})
	}

	h.eventually(10*time.Second, "no goroutine growth", func() (bool, string) {
		after := settledGoroutines()
		return after <= h.before || h.onlyStrayClientConns(), ""
	})
}

// strayClientConn is the top function of the goroutines an idle gRPC
// ClientConn keeps (three per conn). One such conn is sometimes left after an
// nsmgr restart, rarely (a few runs in a hundred, only on a loaded machine);
// its creator is not found yet. It is tolerated here as in TestMain, and
// logged; a leaked connected conn (transport goroutines) and every goroutine
// of ours still fail the check.
const strayClientConn = "google.golang.org/grpc/internal/grpcsync.(*CallbackSerializer).run"

// onlyStrayClientConns reports whether every goroutine started since the
// baseline is a stray ClientConn's; it logs them when there are any.
func (h *healed) onlyStrayClientConns() bool {
	if goleak.Find(h.baseline, goleak.IgnoreTopFunction(strayClientConn)) != nil {
		return false
	}
	if err := goleak.Find(h.baseline); err != nil {
		h.t.Logf("tolerated: goroutines of an idle gRPC ClientConn left over (known, creator not found yet):\n%v", err)
	}
	return true
}

// registered returns the names the registry holds.
func (h *healed) registered() (map[string]bool, error) {
	cc, err := grpc.NewClient(grpcutils.Target(h.d.Registry.URL()), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(h.ctx, time.Second)
	defer cancel()
	stream, err := registry.NewNetworkServiceEndpointRegistryClient(cc).Find(ctx, &registry.NetworkServiceEndpointQuery{NetworkServiceEndpoint: &registry.NetworkServiceEndpoint{}})
	if err != nil {
		return nil, err
	}
	got := map[string]bool{}
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return got, nil
		}
		if err != nil {
			return nil, err
		}
		got[resp.GetNetworkServiceEndpoint().GetName()] = true
	}
}

func (h *healed) eventually(d time.Duration, what string, cond func() (bool, string)) {
	h.t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, detail := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			if what == "no goroutine growth" {
				buf := make([]byte, 1<<20)
				if err := goleak.Find(h.baseline); err != nil {
					h.t.Fatalf("goroutines grew from %d to %d; the new ones:\n%v", h.before, settledGoroutines(), err)
				}
				h.t.Fatalf("goroutines grew from %d to %d:\n%s", h.before, settledGoroutines(), buf[:runtime.Stack(buf, true)])
			}
			h.t.Fatalf("not within %v: %s (%s)", d, what, detail)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func settledGoroutines() int {
	n := runtime.NumGoroutine()
	for range 50 {
		time.Sleep(20 * time.Millisecond)
		m := runtime.NumGoroutine()
		if m == n {
			return m
		}
		n = m
	}
	return n
}

func segmentOf(c *networkservice.Connection, name string) *networkservice.PathSegment {
	for _, s := range c.GetPath().GetPathSegments() {
		if s.GetName() == name {
			return s
		}
	}
	return nil
}

// newClientConnects measures how long a new client on node takes to get a
// connection to "red", retrying as cmd-nsc does.
func (h *healed) newClientConnects(node *sandbox.Node, name string) time.Duration {
	h.t.Helper()
	// The client's own resources end with this context.
	ctx, cancel := context.WithCancel(h.ctx)
	defer cancel()
	nsc := mustClient(ctx, h.t, node, name)
	start := time.Now()
	for {
		reqCtx, cancel := context.WithTimeout(h.ctx, time.Second)
		conn, err := nsc.Request(reqCtx, request("red"))
		cancel()
		if err == nil {
			took := time.Since(start)
			if _, err := nsc.Close(h.ctx, conn); err != nil {
				h.t.Fatal(err)
			}
			return took
		}
		if time.Since(start) > 10*time.Second {
			h.t.Fatalf("a new client could not connect within 10s: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// healReport collects the measured times for the log (and docs/performance.md).
func healReport(t *testing.T, scenario string, d time.Duration) {
	t.Helper()
	t.Logf("HEAL %-55s %6.0f ms", scenario, float64(d.Microseconds())/1000)
}
