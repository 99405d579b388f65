// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package sandbox_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/chains/client"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/sandbox"
	"github.com/nsmesh/nsmesh/sdk/tools/grpcutils"
)

// setup starts a domain, registers ns on the last node and returns a
// context bounded for the test.
func setup(t *testing.T, ns *registry.NetworkService, opts ...sandbox.Option) (context.Context, *sandbox.Domain) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	d := sandbox.New(ctx, t, opts...)
	if ns != nil {
		if err := d.Nodes[len(d.Nodes)-1].RegisterService(ctx, ns); err != nil {
			t.Fatal(err)
		}
	}
	return ctx, d
}

func mustEndpoint(ctx context.Context, t *testing.T, n *sandbox.Node, name string, labels map[string]string, services []string, elems ...networkservice.NetworkServiceServer) *sandbox.Endpoint {
	t.Helper()
	nse := &registry.NetworkServiceEndpoint{Name: name, NetworkServiceNames: services}
	if labels != nil {
		nse.NetworkServiceLabels = map[string]*registry.NetworkServiceLabels{}
		for _, s := range services {
			nse.NetworkServiceLabels[s] = &registry.NetworkServiceLabels{Labels: labels}
		}
	}
	e, err := n.NewEndpoint(ctx, nse, elems...)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func mustClient(ctx context.Context, t *testing.T, n *sandbox.Node, name string, opts ...client.Option) networkservice.NetworkServiceClient {
	t.Helper()
	c, err := n.NewClient(ctx, name, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func withLabels(r *networkservice.NetworkServiceRequest, kv ...string) *networkservice.NetworkServiceRequest {
	r.Connection.Labels = map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		r.Connection.Labels[kv[i]] = kv[i+1]
	}
	return r
}

func segmentIDs(c *networkservice.Connection) []string {
	var out []string
	for _, s := range c.GetPath().GetPathSegments() {
		out = append(out, s.GetId())
	}
	return out
}

func TestRefreshKeepsEndpointAndSegmentIDs(t *testing.T) {
	for _, nodes := range []int{1, 2} {
		for _, m := range modes {
			t.Run(fmt.Sprintf("%s/%d nodes", m.name, nodes), func(t *testing.T) {
				ctx, d := setup(t, &registry.NetworkService{Name: "red"}, append([]sandbox.Option{sandbox.WithNodes(nodes)}, m.opts...)...)
				last := d.Nodes[nodes-1]
				mustEndpoint(ctx, t, last, "nse-a", nil, []string{"red"})
				mustEndpoint(ctx, t, last, "nse-b", nil, []string{"red"})
				nsc := mustClient(ctx, t, d.Nodes[0], "nsc")
				first, err := nsc.Request(ctx, request("red"))
				if err != nil {
					t.Fatal(err)
				}
				ipc := first.GetContext().GetIpContext()
				if len(ipc.GetSrcIpAddrs()) != 1 || len(ipc.GetDstIpAddrs()) != 1 {
					t.Fatalf("no addresses from the endpoint's IPAM: %v", ipc)
				}
				for range 3 {
					// A client refreshes with the connection it got back (same id).
					again, err := nsc.Request(ctx, &networkservice.NetworkServiceRequest{Connection: first.Clone()})
					if err != nil {
						t.Fatal(err)
					}
					if again.GetNetworkServiceEndpointName() != first.GetNetworkServiceEndpointName() {
						t.Fatalf("refresh moved from %s to %s", first.GetNetworkServiceEndpointName(), again.GetNetworkServiceEndpointName())
					}
					if a, b := strings.Join(segmentIDs(first), ","), strings.Join(segmentIDs(again), ","); a != b {
						t.Fatalf("segment ids changed:\n%s\n%s", a, b)
					}
					if a, b := first.GetContext().String(), again.GetContext().String(); a != b {
						t.Fatalf("context changed:\n%s\n%s", a, b)
					}
				}
				if _, err := nsc.Close(ctx, first); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

func TestSelectionByMatchesAndLabels(t *testing.T) {
	ns := &registry.NetworkService{Name: "red", Matches: []*registry.Match{
		{
			SourceSelector: map[string]string{"app": "db"},
			Routes:         []*registry.Destination{{DestinationSelector: map[string]string{"tier": "storage"}}},
		},
		{
			Routes: []*registry.Destination{{DestinationSelector: map[string]string{"tier": "web"}}},
		},
	}}
	ctx, d := setup(t, ns)
	n := d.Nodes[0]
	mustEndpoint(ctx, t, n, "nse-storage", map[string]string{"tier": "storage"}, []string{"red"})
	mustEndpoint(ctx, t, n, "nse-web", map[string]string{"tier": "web"}, []string{"red"})
	nsc := mustClient(ctx, t, n, "nsc")
	for _, tt := range []struct{ app, want string }{{"db", "nse-storage"}, {"frontend", "nse-web"}, {"db", "nse-storage"}} {
		conn, err := nsc.Request(ctx, withLabels(request("red"), "app", tt.app))
		if err != nil {
			t.Fatal(err)
		}
		if got := conn.GetNetworkServiceEndpointName(); got != tt.want {
			t.Fatalf("app=%s selected %s, want %s", tt.app, got, tt.want)
		}
		if _, err := nsc.Close(ctx, conn); err != nil {
			t.Fatal(err)
		}
	}
}

func TestForwarderSelectionByLabels(t *testing.T) {
	ns := &registry.NetworkService{Name: "red", Matches: []*registry.Match{
		{SourceSelector: map[string]string{"fast": "yes"}, Metadata: &registry.Metadata{Labels: map[string]string{"engine": "vpp"}}},
		{Metadata: &registry.Metadata{Labels: map[string]string{"engine": "kernel"}}},
	}}
	ctx, d := setup(t, ns, sandbox.WithForwardersPerNode(0))
	n := d.Nodes[0]
	for _, engine := range []string{"vpp", "kernel"} {
		if _, err := n.NewForwarder(ctx, "fwd-"+engine, map[string]string{"p2p": "true", "engine": engine}); err != nil {
			t.Fatal(err)
		}
	}
	mustEndpoint(ctx, t, n, "nse", nil, []string{"red"})
	nsc := mustClient(ctx, t, n, "nsc")
	for _, tt := range []struct{ fast, want string }{{"yes", "fwd-vpp"}, {"no", "fwd-kernel"}} {
		conn, err := nsc.Request(ctx, withLabels(request("red"), "fast", tt.fast))
		if err != nil {
			t.Fatal(err)
		}
		if got := conn.GetPath().GetPathSegments()[2].GetName(); got != tt.want {
			t.Fatalf("fast=%s went through %s, want %s", tt.fast, got, tt.want)
		}
		if _, err := nsc.Close(ctx, conn); err != nil {
			t.Fatal(err)
		}
	}
}

// failing refuses every Request, as a broken endpoint would.
type failing struct{ chain.ServerLink }

func (f *failing) Request(context.Context, *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	return nil, status.Error(codes.Unavailable, "endpoint is broken")
}

func (f *failing) Close(ctx context.Context, conn *networkservice.Connection) (*emptypb.Empty, error) {
	return f.Next().Close(ctx, conn)
}

func TestFailingEndpointsAreSkipped(t *testing.T) {
	for _, nodes := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d nodes", nodes), func(t *testing.T) {
			ctx, d := setup(t, &registry.NetworkService{Name: "red"}, sandbox.WithNodes(nodes))
			last := d.Nodes[nodes-1]
			broken := mustEndpoint(ctx, t, last, "nse-broken", nil, []string{"red"},
				sandbox.Fresh(func() networkservice.NetworkServiceServer { return &failing{} }))
			mustEndpoint(ctx, t, last, "nse-good", nil, []string{"red"})
			nsc := mustClient(ctx, t, d.Nodes[0], "nsc")
			for range 4 {
				conn, err := nsc.Request(ctx, request("red"))
				if err != nil {
					t.Fatal(err)
				}
				if conn.GetNetworkServiceEndpointName() != "nse-good" {
					t.Fatalf("selected %s", conn.GetNetworkServiceEndpointName())
				}
				if _, err := nsc.Close(ctx, conn); err != nil {
					t.Fatal(err)
				}
			}
			if broken.Counter.Requests() == 0 {
				t.Fatal("the broken endpoint was never tried")
			}
		})
	}
}

func TestEndpointRegisteredAfterRequestStarted(t *testing.T) {
	ctx, d := setup(t, &registry.NetworkService{Name: "red"})
	n := d.Nodes[0]
	nsc := mustClient(ctx, t, n, "nsc")
	type result struct {
		conn *networkservice.Connection
		err  error
	}
	done := make(chan result, 1)
	go func() {
		reqCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		c, err := nsc.Request(reqCtx, request("red"))
		done <- result{c, err}
	}()
	time.Sleep(300 * time.Millisecond)
	mustEndpoint(ctx, t, n, "nse-late", nil, []string{"red"})
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.conn.GetNetworkServiceEndpointName() != "nse-late" {
		t.Fatalf("selected %s", r.conn.GetNetworkServiceEndpointName())
	}
	_, _ = nsc.Close(ctx, r.conn)
}

func TestRegistrationExpiry(t *testing.T) {
	ctx, d := setup(t, &registry.NetworkService{Name: "red"})
	cc, err := grpc.NewClient(grpcutils.Target(d.Registry.URL()), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	watch, err := registry.NewNetworkServiceEndpointRegistryClient(cc).Find(watchCtx, &registry.NetworkServiceEndpointQuery{
		NetworkServiceEndpoint: &registry.NetworkServiceEndpoint{Name: "nse-short"}, Watch: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	// A registration that nobody refreshes, with a short lifetime.
	nsmgrCC, err := grpc.NewClient(grpcutils.Target(d.Nodes[0].NSMgr.UnixURL()), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer nsmgrCC.Close()
	start := time.Now()
	_, err = registry.NewNetworkServiceEndpointRegistryClient(nsmgrCC).Register(ctx, &registry.NetworkServiceEndpoint{
		Name: "nse-short", NetworkServiceNames: []string{"red"}, Url: "unix:///nowhere.sock",
		ExpirationTime: timestampIn(time.Second),
	})
	if err != nil {
		t.Fatal(err)
	}
	var sawAdd bool
	for {
		resp, err := watch.Recv()
		if err != nil {
			t.Fatalf("watch ended before the delete: %v", err)
		}
		if !resp.GetDeleted() {
			sawAdd = true
			continue
		}
		if !sawAdd {
			t.Fatal("delete before add")
		}
		if took := time.Since(start); took < 900*time.Millisecond || took > 5*time.Second {
			t.Fatalf("expired after %v, want about 1s", took)
		}
		break
	}
	// Discovery no longer offers it.
	nsc := mustClient(ctx, t, d.Nodes[0], "nsc")
	reqCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := nsc.Request(reqCtx, request("red")); status.Code(err) != codes.NotFound {
		t.Fatalf("request after expiry: %v, want NotFound", err)
	}
}

func TestExpiredClientTokenClosesEveryHop(t *testing.T) {
	const lifetime = 3 * time.Second
	for _, nodes := range []int{1, 2} {
		for _, m := range modes {
			t.Run(fmt.Sprintf("%s/%d nodes", m.name, nodes), func(t *testing.T) {
				ctx, d := setup(t, &registry.NetworkService{Name: "red"}, append([]sandbox.Option{sandbox.WithNodes(nodes), sandbox.WithTokenLifetime(lifetime)}, m.opts...)...)
				last := d.Nodes[nodes-1]
				nse := mustEndpoint(ctx, t, last, "nse", nil, []string{"red"})
				nsc := mustClient(ctx, t, d.Nodes[0], "nsc", client.WithoutRefresh())
				// Servers close at the caller's token expiry minus the time the
				// caller allowed for the Request, so keep that short (but long
				// enough for the mTLS handshakes of every hop under -race).
				reqCtx, cancel := context.WithTimeout(ctx, time.Second)
				defer cancel()
				start := time.Now()
				conn, err := nsc.Request(reqCtx, request("red"))
				if err != nil {
					t.Fatal(err)
				}
				defer func() { _, _ = nsc.Close(ctx, conn) }()
				deadline := time.Now().Add(lifetime + 5*time.Second)
				for nse.Counter.Closes() == 0 && time.Now().Before(deadline) {
					time.Sleep(20 * time.Millisecond)
				}
				took := time.Since(start)
				time.Sleep(200 * time.Millisecond)
				if nse.Counter.Closes() != 1 {
					t.Fatalf("endpoint closes = %d, want 1", nse.Counter.Closes())
				}
				if took < lifetime/3 || took > lifetime+time.Second {
					t.Fatalf("closed after %v; the token lived %v", took, lifetime)
				}
				for _, n := range d.Nodes {
					if l := n.NSMgr.Current.Begin.Len(); l != 0 {
						t.Fatalf("%s still holds %d connections", n.Name, l)
					}
					for _, f := range n.Forwarders {
						if l := f.Current.Begin.Len(); l != 0 || len(f.Dataplane.Programmed()) != 0 {
							t.Fatalf("%s still holds %d connections, %d programmed", f.Name(), l, len(f.Dataplane.Programmed()))
						}
					}
				}
				if l := nse.Current.Begin.Len(); l != 0 {
					t.Fatalf("endpoint still holds %d connections", l)
				}
			})
		}
	}
}

func TestNoGoroutineLeftAfterClose(t *testing.T) {
	ctx, d := setup(t, &registry.NetworkService{Name: "red"}, sandbox.WithNodes(2))
	mustEndpoint(ctx, t, d.Nodes[1], "nse", nil, []string{"red"})
	nsc := mustClient(ctx, t, d.Nodes[0], "nsc")
	// Warm up: dial the registry, open long-lived watches.
	conn, err := nsc.Request(ctx, request("red"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nsc.Close(ctx, conn); err != nil {
		t.Fatal(err)
	}
	settle := func() int {
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
	before := settle()
	for i := range 10 {
		conn, err := nsc.Request(ctx, request("red"))
		if err != nil {
			t.Fatal(i, err)
		}
		if _, err := nsc.Close(ctx, conn); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	after := settle()
	for after > before && time.Now().Before(deadline) {
		after = settle()
	}
	if after > before {
		buf := make([]byte, 1<<20)
		t.Fatalf("goroutines grew from %d to %d after 10 Request+Close:\n%s", before, after, buf[:runtime.Stack(buf, true)])
	}
}

func TestBadInputGetsActionableStatus(t *testing.T) {
	ns := &registry.NetworkService{Name: "templated", Matches: []*registry.Match{
		{Routes: []*registry.Destination{{DestinationSelector: map[string]string{"node": "{{.nodeName"}}}},
	}}
	ctx, d := setup(t, ns)
	n := d.Nodes[0]
	if err := n.RegisterService(ctx, &registry.NetworkService{Name: "empty"}); err != nil {
		t.Fatal(err)
	}
	mustEndpoint(ctx, t, n, "nse", map[string]string{"node": "x"}, []string{"templated"})
	nsc := mustClient(ctx, t, n, "nsc")
	short := func() context.Context {
		c, cancel := context.WithTimeout(ctx, 2*time.Second)
		t.Cleanup(cancel)
		return c
	}
	for _, tt := range []struct {
		name string
		call func() error
		code codes.Code
		msg  string
	}{
		{"unknown service", func() error { _, err := nsc.Request(short(), request("nope")); return err }, codes.NotFound, `network service "nope" not found`},
		{"no endpoint", func() error { _, err := nsc.Request(short(), request("empty")); return err }, codes.NotFound, `no endpoint for network service "empty"`},
		{"malformed label selector", func() error { _, err := nsc.Request(short(), request("templated")); return err }, codes.InvalidArgument, "templated"},
		{"path that does not match", func() error {
			cc, err := grpc.NewClient(grpcutils.Target(n.NSMgr.UnixURL()), grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				return err
			}
			defer cc.Close()
			_, err = networkservice.NewNetworkServiceClient(cc).Request(short(), &networkservice.NetworkServiceRequest{Connection: &networkservice.Connection{
				Id: "not-the-segment-id", NetworkService: "red",
				Path: &networkservice.Path{PathSegments: []*networkservice.PathSegment{{Name: "nsc", Id: "other"}}},
			}})
			return err
		}, codes.InvalidArgument, "does not match"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			st, _ := status.FromError(err)
			if st.Code() != tt.code || !strings.Contains(st.Message(), tt.msg) {
				t.Fatalf("got %v %q, want %v containing %q", st.Code(), st.Message(), tt.code, tt.msg)
			}
		})
	}
}

func TestServiceFunctionChain(t *testing.T) {
	// client → firewall (passthrough endpoint for "secure") → endpoint of "red"
	for _, tt := range []struct {
		name           string
		nodes, pt, nse int
		want           []string
	}{
		{"local", 1, 0, 0, []string{"nsc", "nsmgr-node-1", "fwd-node-1-1", "firewall", "nsmgr-node-1", "fwd-node-1-1", "nse-red"}},
		{"remote", 2, 1, 0, []string{"nsc", "nsmgr-node-1", "fwd-node-1-1", "nsmgr-node-2", "fwd-node-2-1", "firewall", "nsmgr-node-2", "fwd-node-2-1", "nsmgr-node-1", "fwd-node-1-1", "nse-red"}},
	} {
		for _, m := range modes {
			t.Run(m.name+"/"+tt.name, func(t *testing.T) {
				ctx, d := setup(t, &registry.NetworkService{Name: "secure"}, append([]sandbox.Option{sandbox.WithNodes(tt.nodes)}, m.opts...)...)
				if err := d.Nodes[0].RegisterService(ctx, &registry.NetworkService{Name: "red"}); err != nil {
					t.Fatal(err)
				}
				nse := mustEndpoint(ctx, t, d.Nodes[tt.nse], "nse-red", nil, []string{"red"})
				fw, err := d.Nodes[tt.pt].NewPassthroughEndpoint(ctx, &registry.NetworkServiceEndpoint{Name: "firewall", NetworkServiceNames: []string{"secure"}}, "red")
				if err != nil {
					t.Fatal(err)
				}
				nsc := mustClient(ctx, t, d.Nodes[0], "nsc")
				conn, err := nsc.Request(ctx, request("secure"))
				if err != nil {
					t.Fatal(err)
				}
				if got := strings.Join(pathNames(conn), " "); got != strings.Join(tt.want, " ") {
					t.Fatalf("path\n got %s\nwant %s", got, strings.Join(tt.want, " "))
				}
				if conn.GetNetworkService() != "secure" || conn.GetNetworkServiceEndpointName() != "firewall" {
					t.Fatalf("client sees %s/%s", conn.GetNetworkService(), conn.GetNetworkServiceEndpointName())
				}
				// A refresh travels the whole chain and keeps it.
				again, err := nsc.Request(ctx, &networkservice.NetworkServiceRequest{Connection: conn.Clone()})
				if err != nil {
					t.Fatal(err)
				}
				if a, b := strings.Join(segmentIDs(conn), ","), strings.Join(segmentIDs(again), ","); a != b {
					t.Fatalf("segment ids changed on refresh:\n%s\n%s", a, b)
				}
				if _, err := nsc.Close(ctx, again); err != nil {
					t.Fatal(err)
				}
				if fw.Counter.Closes() != 1 || nse.Counter.Closes() != 1 {
					t.Fatalf("closes: firewall %d, endpoint %d", fw.Counter.Closes(), nse.Counter.Closes())
				}
				if nse.Counter.Requests() != 2 {
					t.Fatalf("endpoint requests = %d, want 2 (request and refresh)", nse.Counter.Requests())
				}
			})
		}
	}
}

func TestRegistryRestartReRegistersEndpoints(t *testing.T) {
	ctx, d := setup(t, &registry.NetworkService{Name: "red"}, sandbox.WithNodes(2))
	mustEndpoint(ctx, t, d.Nodes[1], "nse", nil, []string{"red"})
	nsc := mustClient(ctx, t, d.Nodes[0], "nsc")
	conn, err := nsc.Request(ctx, request("red"))
	if err != nil {
		t.Fatal(err)
	}
	// The new registry starts empty; endpoints and forwarders come back on their own.
	if err := d.Registry.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	// The established connection keeps refreshing through the restart.
	if _, err := nsc.Request(ctx, &networkservice.NetworkServiceRequest{Connection: conn.Clone()}); err != nil {
		t.Fatalf("refresh after the registry restart: %v", err)
	}
	if err := d.Nodes[1].RegisterService(ctx, &registry.NetworkService{Name: "red"}); err != nil {
		t.Fatal(err)
	}
	nsc2 := mustClient(ctx, t, d.Nodes[0], "nsc-2")
	reqCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	start := time.Now()
	conn2, err := nsc2.Request(reqCtx, request("red"))
	if err != nil {
		t.Fatalf("new client after the registry restart: %v", err)
	}
	t.Logf("new connection %v after the registry came back", time.Since(start))
	for _, c := range []struct {
		cl networkservice.NetworkServiceClient
		cn *networkservice.Connection
	}{{nsc, conn}, {nsc2, conn2}} {
		if _, err := c.cl.Close(ctx, c.cn); err != nil {
			t.Fatal(err)
		}
	}
}

func TestShortTokensAreRefreshedWithoutCloses(t *testing.T) {
	const lifetime = 2 * time.Second
	ctx, d := setup(t, &registry.NetworkService{Name: "red"}, sandbox.WithNodes(2), sandbox.WithTokenLifetime(lifetime))
	nse := mustEndpoint(ctx, t, d.Nodes[1], "nse", nil, []string{"red"})
	nsc := mustClient(ctx, t, d.Nodes[0], "nsc")
	// A request timeout far longer than the token lifetime must not make
	// servers close early.
	conn, err := nsc.Request(ctx, request("red"))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * lifetime)
	if c := nse.Counter.Closes(); c != 0 {
		t.Fatalf("endpoint saw %d closes while the client kept refreshing", c)
	}
	if r := nse.Counter.Requests(); r < 3 {
		t.Fatalf("endpoint saw %d requests in %v, want refreshes", r, 3*lifetime)
	}
	if _, err := nsc.Close(ctx, conn); err != nil {
		t.Fatal(err)
	}
}
