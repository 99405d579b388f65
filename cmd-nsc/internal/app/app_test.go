// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package app_test

import (
	"bytes"
	"context"
	"io"
	"maps"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	kernelmech "github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/kernel"
	"github.com/nsmesh/nsmesh/apis/nsurl"
	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/cmd-nsc/internal/app"
	"github.com/nsmesh/nsmesh/cmd-nsc/internal/config"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/networkservice/xconnect"
	"github.com/nsmesh/nsmesh/sdk/sandbox"
	"github.com/nsmesh/nsmesh/sdk/tools/spiffe"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func logger(buf io.Writer) *logrus.Logger {
	l := logrus.New()
	l.SetOutput(buf)
	if testing.Verbose() {
		l.SetOutput(io.MultiWriter(buf, os.Stderr))
	}
	return l
}

func eventually(t *testing.T, within time.Duration, cond func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(within); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func services(t *testing.T, raw string) []*nsurl.URL {
	t.Helper()
	urls, err := nsurl.ParseList(raw)
	if err != nil {
		t.Fatal(err)
	}
	return urls
}

func testConfig(connectTo *url.URL, urls []*nsurl.URL) *config.Config {
	return &config.Config{
		Name:             "nsc-test",
		ConnectTo:        connectTo,
		DialTimeout:      time.Second,
		RequestTimeout:   3 * time.Second,
		MaxTokenLifetime: time.Minute,
		NetworkServices:  urls,
		Labels:           map[string]string{"app": "web", "color": "none"},
		LogLevel:         logrus.InfoLevel,
		Identity:         spiffe.Insecure(),
	}
}

// labelRecorder remembers the labels of the requests reaching an endpoint.
type labelRecorder struct {
	chain.ServerLink
	mu     sync.Mutex
	labels map[string]string
}

func (r *labelRecorder) Request(ctx context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	r.mu.Lock()
	r.labels = maps.Clone(req.GetConnection().GetLabels())
	r.mu.Unlock()
	return r.Next().Request(ctx, req)
}

func (r *labelRecorder) Close(ctx context.Context, conn *networkservice.Connection) (*emptypb.Empty, error) {
	return r.Next().Close(ctx, conn)
}

func (r *labelRecorder) get() map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.labels
}

// byClientID maps the pairs a forwarder programmed by the client's own
// connection id (path segment 0).
func byClientID(pairs map[string]*xconnect.Pair) map[string]*xconnect.Pair {
	out := make(map[string]*xconnect.Pair)
	for _, p := range pairs {
		out[p.Upstream.GetPath().GetPathSegments()[0].GetId()] = p
	}
	return out
}

// TestJoinsTwoServicesRefreshesAndClosesOnCancel runs the client
// application against an in-process mesh (sandbox nsmgr and forwarder with
// a fake data plane). It starts before any endpoint exists, so it retries;
// once the endpoints register it gets one connection per service with its
// own interface and each endpoint's addresses, keeps them refreshed, and
// cancelling Run closes both.
func TestJoinsTwoServicesRefreshesAndClosesOnCancel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// mTLS as deployed: the client reads an SVID directory of the sandbox's
	// trust domain.
	d := sandbox.New(ctx, t, sandbox.WithTokenLifetime(5*time.Second), sandbox.WithMTLS())
	node := d.Nodes[0]
	for _, ns := range []string{"red", "green"} {
		if err := node.RegisterService(ctx, &registry.NetworkService{Name: ns}); err != nil {
			t.Fatal(err)
		}
	}
	cfg := testConfig(node.NSMgr.UnixURL(), services(t, "kernel://red/nsm-red?color=red&tier=db,kernel://green"))
	svidDir, err := d.WriteSVIDDir(cfg.Name)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Identity = spiffe.Config{Mode: spiffe.ModeFiles, SVIDDir: svidDir}
	// Tokens of a few seconds: connections live only as long as they are
	// refreshed (each hop closes a connection a request timeout before its
	// token expires).
	cfg.MaxTokenLifetime = 5 * time.Second
	cfg.RequestTimeout = time.Second
	logs := &syncBuffer{}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	ran := make(chan error, 1)
	go func() {
		ran <- app.Run(runCtx, cfg, logger(logs), app.WithBackoff(50*time.Millisecond, 200*time.Millisecond))
	}()

	eventually(t, 10*time.Second, func() bool {
		return strings.Contains(logs.String(), `msg="request red: `) &&
			strings.Contains(logs.String(), `no endpoint for network service \"red\": none registered; retrying in `)
	}, "a logged failed attempt")

	red, green := &labelRecorder{}, &labelRecorder{}
	nseRed, err := node.NewEndpoint(ctx, &registry.NetworkServiceEndpoint{Name: "nse-red", NetworkServiceNames: []string{"red"}},
		sandbox.Fresh(func() networkservice.NetworkServiceServer { return red }))
	if err != nil {
		t.Fatal(err)
	}
	nseGreen, err := node.NewEndpoint(ctx, &registry.NetworkServiceEndpoint{Name: "nse-green", NetworkServiceNames: []string{"green"}},
		sandbox.Fresh(func() networkservice.NetworkServiceServer { return green }))
	if err != nil {
		t.Fatal(err)
	}
	dp := node.Forwarders[0].Dataplane
	eventually(t, 20*time.Second, func() bool { return strings.Count(logs.String(), "msg=\"connected to ") == 2 }, "two connections")

	pairs := byClientID(dp.Programmed())
	for _, tt := range []struct {
		id, service, ifPrefix string
		exactIf               bool
		nse                   *sandbox.Endpoint
		labels                map[string]string
		rec                   *labelRecorder
	}{
		{"nsc-test-0", "red", "nsm-red", true, nseRed, map[string]string{"app": "web", "color": "red", "tier": "db"}, red},
		{"nsc-test-1", "green", "green-", false, nseGreen, map[string]string{"app": "web", "color": "none"}, green},
	} {
		p, ok := pairs[tt.id]
		if !ok {
			t.Fatalf("no connection %s among %v", tt.id, pairs)
		}
		up := p.Upstream
		if up.GetNetworkService() != tt.service || up.GetNetworkServiceEndpointName() != tt.nse.Name() {
			t.Errorf("%s: service %s endpoint %s", tt.id, up.GetNetworkService(), up.GetNetworkServiceEndpointName())
		}
		k := kernelmech.ToMechanism(up.GetMechanism())
		if k == nil {
			t.Fatalf("%s: client mechanism %v", tt.id, up.GetMechanism())
		}
		name := k.GetInterfaceName()
		if (tt.exactIf && name != tt.ifPrefix) || (!tt.exactIf && (!strings.HasPrefix(name, tt.ifPrefix) || len(name) != 15)) {
			t.Errorf("%s: interface %q, want %s", tt.id, name, tt.ifPrefix)
		}
		if k.GetNetNSURL() == "" {
			t.Errorf("%s: no netns in the client mechanism", tt.id)
		}
		for _, a := range up.GetContext().GetIpContext().GetSrcIpAddrs() {
			if !tt.nse.Prefix.Contains(netip.MustParsePrefix(a).Addr()) {
				t.Errorf("%s: address %s not from %s's pool %s", tt.id, a, tt.nse.Name(), tt.nse.Prefix)
			}
		}
		if got := tt.rec.get(); !maps.Equal(got, tt.labels) {
			t.Errorf("%s: labels %v, want %v", tt.id, got, tt.labels)
		}
		if !strings.Contains(logs.String(), "connected to "+tt.service) || !strings.Contains(logs.String(), "interface="+name) {
			t.Errorf("no connection line for %s:\n%s", tt.id, logs)
		}
	}

	// Several token lifetimes later the connections are still there: the
	// client refreshed them (the endpoints saw more Requests and no Close).
	before := nseRed.Counter.Requests() + nseGreen.Counter.Requests()
	time.Sleep(6 * time.Second)
	if n := nseRed.Counter.Closes() + nseGreen.Counter.Closes(); n != 0 {
		t.Fatalf("%d connections closed while the client was running", n)
	}
	if after := nseRed.Counter.Requests() + nseGreen.Counter.Requests(); after < before+4 {
		t.Fatalf("requests at the endpoints: %d, then %d: not refreshed", before, after)
	}
	if len(dp.Programmed()) != 2 {
		t.Fatalf("programmed %v", dp.Programmed())
	}

	stop()
	select {
	case err := <-ran:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after cancellation")
	}
	if nseRed.Counter.Closes() != 1 || nseGreen.Counter.Closes() != 1 {
		t.Errorf("closes: red %d green %d, want 1 each", nseRed.Counter.Closes(), nseGreen.Counter.Closes())
	}
	if n := len(dp.Programmed()); n != 0 {
		t.Errorf("%d connections still programmed after the client stopped", n)
	}
	if n := strings.Count(logs.String(), "msg=closed"); n != 2 {
		t.Errorf("%d close lines:\n%s", n, logs)
	}
}

// TestUnreachableNSMgrIsReportedEachAttempt: nothing listens where the
// nsmgr should be; every attempt says so, and the client still stops
// cleanly.
func TestUnreachableNSMgrIsReportedEachAttempt(t *testing.T) {
	dir, err := os.MkdirTemp("", "nsc-")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = os.RemoveAll(dir) }()
	missing := &url.URL{Scheme: "unix", Path: filepath.Join(dir, "nsm.io.sock")}
	cfg := testConfig(missing, services(t, "kernel://red"))
	logs := &syncBuffer{}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	ran := make(chan error, 1)
	go func() {
		ran <- app.Run(ctx, cfg, logger(logs), app.WithBackoff(20*time.Millisecond, 50*time.Millisecond))
	}()
	want := "request red: nsmgr at " + missing.String() + " is not reachable: no socket at " + missing.Path
	eventually(t, 10*time.Second, func() bool { return strings.Count(logs.String(), want) >= 3 }, "three reported attempts")
	if !strings.Contains(logs.String(), "level=error") {
		t.Errorf("not reported as an error:\n%s", logs)
	}

	// A socket nobody serves is not reachable either, for another reason.
	if err := os.WriteFile(missing.Path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() bool {
		return strings.Contains(logs.String(), "request red: nsmgr at "+missing.String()+" is not reachable: dial unix "+missing.Path+": connect: connection refused")
	}, "the dial failure reported")

	stop()
	select {
	case err := <-ran:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancellation")
	}
	if !strings.Contains(logs.String(), "closing the connections") || strings.Contains(logs.String(), "msg=closed") {
		t.Errorf("shutdown lines:\n%s", logs)
	}
}

// TestHealsAfterNSMgrRestartAndDataPlaneLoss: with the liveness check on
// (here over the forwarder's fake data plane), a restarted nsmgr is healed
// by requesting the same path again (the endpoint sees no Close), and a
// data plane that dies under a healthy control plane by a reselect.
func TestHealsAfterNSMgrRestartAndDataPlaneLoss(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d := sandbox.New(ctx, t)
	node := d.Nodes[0]
	if err := node.RegisterService(ctx, &registry.NetworkService{Name: "red"}); err != nil {
		t.Fatal(err)
	}
	nse, err := node.NewEndpoint(ctx, &registry.NetworkServiceEndpoint{Name: "nse-red", NetworkServiceNames: []string{"red"}})
	if err != nil {
		t.Fatal(err)
	}
	dp := node.Forwarders[0].Dataplane
	fwd := node.Forwarders[0].Name()
	alive := func(ctx context.Context, conn *networkservice.Connection) bool {
		for _, s := range conn.GetPath().GetPathSegments() {
			if s.GetName() == fwd {
				_, ok := dp.Programmed()[s.GetId()]
				return ok && ctx.Err() == nil
			}
		}
		return false
	}
	cfg := testConfig(node.NSMgr.UnixURL(), services(t, "kernel://red"))
	cfg.LivenessCheckEnabled = true
	cfg.LivenessCheckInterval = 50 * time.Millisecond
	cfg.LivenessCheckTimeout = 100 * time.Millisecond
	logs := &syncBuffer{}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	ran := make(chan error, 1)
	go func() {
		ran <- app.Run(runCtx, cfg, logger(logs), app.WithLivenessCheck(alive))
	}()
	eventually(t, 10*time.Second, func() bool { return strings.Contains(logs.String(), `msg="connected to red"`) }, "the connection")

	if err := node.NSMgr.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() bool { return strings.Count(logs.String(), `msg="connection healed"`) == 1 }, "healed after the nsmgr restart")
	if !strings.Contains(logs.String(), "requesting it again on the same path") || nse.Counter.Closes() != 0 {
		t.Fatalf("the nsmgr restart was not healed on the same path (endpoint closes %d):\n%s", nse.Counter.Closes(), logs)
	}

	for _, p := range dp.Programmed() {
		if err := dp.Unprogram(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 10*time.Second, func() bool { return strings.Count(logs.String(), `msg="connection healed"`) == 2 }, "healed after the data plane loss")
	if !strings.Contains(logs.String(), "the liveness check failed") || !strings.Contains(logs.String(), "reselecting") {
		t.Fatalf("the data plane loss was not reselected:\n%s", logs)
	}
	eventually(t, 5*time.Second, func() bool { return len(dp.Programmed()) == 1 }, "the connection programmed again")

	stop()
	select {
	case err := <-ran:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after cancellation")
	}
	if n := len(dp.Programmed()); n != 0 {
		t.Errorf("%d connections still programmed after the client stopped", n)
	}
}
