// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package sandbox_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	kernelmech "github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/kernel"
	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/chains/client"
	"github.com/nsmesh/nsmesh/sdk/networkservice/mechanisms/kernel"
	"github.com/nsmesh/nsmesh/sdk/networkservice/xconnect"
	"github.com/nsmesh/nsmesh/sdk/sandbox"
	"github.com/nsmesh/nsmesh/sdk/tools/grpcutils"
)

// A client process that is killed (no Close) and started again asks for its
// connections under the same ids (cmd-nsc: <NSM_NAME>-<i>) with a path that
// holds only its own segment. The mesh must take that for a refresh of the
// connection it holds, not a second connection.

// restartedRequest is what a client process sends first for its connection
// id: its own segment is all it knows.
func restartedRequest(id string) *networkservice.NetworkServiceRequest {
	r := request("red")
	r.Connection.Id = id
	return r
}

// hopState is what every hop of a domain holds.
type hopState struct {
	held       map[string]int // connections per hop (begin)
	programmed map[string]map[string]*xconnect.Pair
	programs   map[string]int
	unprograms map[string]int
}

func stateOf(d *sandbox.Domain) hopState {
	s := hopState{held: map[string]int{}, programmed: map[string]map[string]*xconnect.Pair{}, programs: map[string]int{}, unprograms: map[string]int{}}
	for _, n := range d.Nodes {
		s.held["nsmgr-"+n.Name] = n.NSMgr.Current.Begin.Len()
		for _, f := range n.Forwarders {
			s.held[f.Name()] = f.Current.Begin.Len()
			s.programmed[f.Name()] = f.Dataplane.Programmed()
			s.programs[f.Name()], s.unprograms[f.Name()] = f.Dataplane.Counts()
		}
		for _, e := range n.Endpoints {
			s.held[e.Name()] = e.Current.Begin.Len()
		}
	}
	return s
}

// retried requests as cmd-nsc does, until it succeeds: a restarted nsmgr
// knows its forwarders and endpoints only once they registered again.
func retried(ctx context.Context, t *testing.T, nsc networkservice.NetworkServiceClient, req *networkservice.NetworkServiceRequest) *networkservice.Connection {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := nsc.Request(ctx, req.Clone())
		if err == nil {
			return conn
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// describePair is what the failure messages show of a programmed pair.
func describePair(p *xconnect.Pair) string {
	return fmt.Sprintf("%s: upstream %v, downstream %v, addresses %v", p.ID,
		p.Upstream.GetMechanism(), p.Downstream.GetMechanism(), p.Downstream.GetContext().GetIpContext())
}

// monitored returns the connections the nsmgr of n reports to a monitor.
func monitored(ctx context.Context, t *testing.T, d *sandbox.Domain, n *sandbox.Node) []*networkservice.Connection {
	t.Helper()
	id, err := d.NewIdentity("observer")
	if err != nil {
		t.Fatal(err)
	}
	cc, err := grpc.NewClient(grpcutils.Target(n.NSMgr.UnixURL()), id.DialOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	stream, err := networkservice.NewMonitorConnectionClient(cc).MonitorConnections(shortCtx(ctx, t), &networkservice.MonitorScopeSelector{})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	return slices.Collect(maps.Values(ev.GetConnections()))
}

// restarts are the ways a client process comes back: in its namespace (a
// process or container restart), or with the same name in a new one (a
// workload recreated): the interface then moves there.
var restarts = []struct {
	name  string
	netns string // the restarted client's namespace; "" for the first one's
	nsmgr bool   // its nsmgr restarted too, so no hop knows the client
}{
	{name: "same namespace"},
	{name: "new namespace", netns: "file:///proc/self/ns/net"},
	{name: "nsmgr restarted too", nsmgr: true},
}

func TestClientRestartReusesConnection(t *testing.T) {
	for _, nodes := range []int{1, 2} {
		for _, m := range modes {
			for _, r := range restarts {
				t.Run(fmt.Sprintf("%s/%d nodes/%s", m.name, nodes, r.name), func(t *testing.T) {
					testClientRestart(t, nodes, m.opts, r.netns, r.nsmgr)
				})
			}
		}
	}
}

func testClientRestart(t *testing.T, nodes int, opts []sandbox.Option, netns string, nsmgr bool) {
	ctx, d := setup(t, &registry.NetworkService{Name: "red"}, append([]sandbox.Option{sandbox.WithNodes(nodes)}, opts...)...)
	last := d.Nodes[nodes-1]
	// Two endpoints: a Request taken for a new connection would go to the
	// other one (round robin).
	mustEndpoint(ctx, t, last, "nse-a", nil, []string{"red"})
	mustEndpoint(ctx, t, last, "nse-b", nil, []string{"red"})
	node := d.Nodes[0]

	// The first process: connects, then dies without closing (its refresh
	// timers and gRPC connections end with it).
	procCtx, kill := context.WithCancel(ctx)
	first, err := mustClient(procCtx, t, node, "nsc").Request(ctx, restartedRequest("nsc-0"))
	if err != nil {
		t.Fatal(err)
	}
	kill()
	before := stateOf(d)
	if nsmgr {
		if err := node.NSMgr.Restart(ctx); err != nil {
			t.Fatal(err)
		}
	}

	// The restarted process: a new chain, the same name and id.
	var moved []client.Option
	wantNetNS := kernelmech.ToMechanism(first.GetMechanism()).GetNetNSURL()
	if netns != "" {
		// Offered after the sandbox's own kernel element, so its namespace
		// is the one sent.
		offer, err := kernel.NewClient(kernel.WithNetNSURL(netns))
		if err != nil {
			t.Fatal(err)
		}
		moved = append(moved, client.WithAdditionalFunctionality(offer))
		wantNetNS = netns
	}
	nsc := mustClient(ctx, t, node, "nsc", moved...)
	again := retried(ctx, t, nsc, restartedRequest("nsc-0"))
	after := stateOf(d)

	if a, b := strings.Join(segmentIDs(first), ","), strings.Join(segmentIDs(again), ","); a != b {
		t.Errorf("the path changed:\n%s\n%s", a, b)
	}
	if a, b := first.GetNetworkServiceEndpointName(), again.GetNetworkServiceEndpointName(); a != b {
		t.Errorf("endpoint %s, then %s", a, b)
	}
	if a, b := first.GetContext().GetIpContext(), again.GetContext().GetIpContext(); !proto.Equal(a, b) {
		t.Errorf("addresses changed:\n%v\n%v", a, b)
	}
	k, k0 := kernelmech.ToMechanism(again.GetMechanism()), kernelmech.ToMechanism(first.GetMechanism())
	if k.GetNetNSURL() != wantNetNS || k.GetInterfaceName() != k0.GetInterfaceName() {
		t.Errorf("the client's mechanism is\n%v\nwant namespace %s, interface %s", again.GetMechanism(), wantNetNS, k0.GetInterfaceName())
	}
	for hop, n := range after.held {
		want := 1
		if segmentOf(first, hop) == nil {
			want = 0 // the endpoint not chosen
		}
		if n != want || before.held[hop] != want {
			t.Errorf("%s holds %d connections (%d before the restart), want %d", hop, n, before.held[hop], want)
		}
	}
	for fwd, pairs := range after.programmed {
		seg := segmentOf(first, fwd)
		if len(pairs) != 1 || seg == nil || pairs[seg.GetId()] == nil {
			t.Fatalf("%s programmed %v, want only its segment of the path %v", fwd, slices.Collect(maps.Keys(pairs)), pathNames(first))
		}
		old, now := before.programmed[fwd][seg.GetId()], pairs[seg.GetId()]
		up, up0 := now.Upstream.GetMechanism(), old.Upstream.GetMechanism()
		if k := kernelmech.ToMechanism(up); k != nil && fwd == first.GetPath().GetPathSegments()[2].GetName() {
			// The client's side: in the client's (new) namespace.
			if k.GetNetNSURL() != wantNetNS {
				t.Errorf("%s programs the client's interface in %s, want %s", fwd, k.GetNetNSURL(), wantNetNS)
			}
			up, up0 = proto.Clone(up).(*networkservice.Mechanism), proto.Clone(up0).(*networkservice.Mechanism)
			kernelmech.ToMechanism(up).SetNetNSURL("")
			kernelmech.ToMechanism(up0).SetNetNSURL("")
		}
		if !proto.Equal(up0, up) || !proto.Equal(old.Downstream.GetMechanism(), now.Downstream.GetMechanism()) ||
			!proto.Equal(old.Downstream.GetContext(), now.Downstream.GetContext()) {
			t.Errorf("%s reprogrammed the connection differently:\n%s\n%s", fwd, describePair(old), describePair(now))
		}
		// A refresh programs again (idempotently); nothing was torn down.
		if after.unprograms[fwd] != 0 || after.programs[fwd] != before.programs[fwd]+1 {
			t.Errorf("%s: %d programs, %d unprograms after the restart; %d, %d before", fwd,
				after.programs[fwd], after.unprograms[fwd], before.programs[fwd], before.unprograms[fwd])
		}
	}
	if conns := monitored(ctx, t, d, node); len(conns) != 1 || conns[0].GetId() != segmentIDs(first)[1] ||
		conns[0].GetState() != networkservice.State_UP || conns[0].GetPath().GetPathSegments()[0].GetId() != "nsc-0" {
		t.Errorf("the nsmgr reports %v, want the one connection UP", conns)
	}

	// The restarted process refreshes and closes as usual; nothing is left
	// anywhere.
	refreshed, err := nsc.Request(ctx, &networkservice.NetworkServiceRequest{Connection: again.Clone()})
	if err != nil {
		t.Fatal(err)
	}
	if a, b := strings.Join(segmentIDs(again), ","), strings.Join(segmentIDs(refreshed), ","); a != b {
		t.Errorf("the refresh changed the path:\n%s\n%s", a, b)
	}
	if _, err := nsc.Close(ctx, refreshed); err != nil {
		t.Fatal(err)
	}
	closed := stateOf(d)
	for hop, n := range closed.held {
		if n != 0 {
			t.Errorf("%s holds %d connections after Close", hop, n)
		}
	}
	for fwd, pairs := range closed.programmed {
		if len(pairs) != 0 || closed.unprograms[fwd] != 1 {
			t.Errorf("%s: %d pairs programmed, %d unprograms after Close, want 0 and 1", fwd, len(pairs), closed.unprograms[fwd])
		}
	}
	// No address leaked: a new connection to the same endpoint that asks for
	// the first one's addresses gets them, which the IPAM does only for free
	// ones.
	other := restartedRequest("nsc-other")
	other.Connection.NetworkServiceEndpointName = first.GetNetworkServiceEndpointName()
	other.Connection.Context = proto.Clone(first.GetContext()).(*networkservice.ConnectionContext)
	fresh := retried(ctx, t, nsc, other)
	if a, b := first.GetContext().GetIpContext(), fresh.GetContext().GetIpContext(); !proto.Equal(a, b) {
		t.Errorf("the addresses of the closed connection are still taken:\n%v\n%v", a, b)
	}
	if _, err := nsc.Close(ctx, fresh); err != nil {
		t.Fatal(err)
	}
}

// Another identity that sends a connection id of someone else's, under the
// same client name, reaches that connection at the nsmgr and is refused
// there (connection_owner): it can neither re-request nor close it, and the
// owner's connection stays as it was.
func TestClientRestartByAnotherIdentityIsRefused(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			ctx, d := setup(t, &registry.NetworkService{Name: "red"}, m.opts...)
			n := d.Nodes[0]
			nse := mustEndpoint(ctx, t, n, "nse", nil, []string{"red"})
			victim := mustClient(ctx, t, n, "nsc")
			conn, err := victim.Request(ctx, restartedRequest("nsc-0"))
			if err != nil {
				t.Fatal(err)
			}
			member, err := d.NewIdentity("nsc-evil")
			if err != nil {
				t.Fatal(err)
			}
			evil := attacker(ctx, t, n.NSMgr.UnixURL(), "nsc", member.TokenGenerator(), member.ClientCredentials(), member.PerRPCCredentials())
			before := stateOf(d)
			requests, closes := nse.Counter.Requests(), nse.Counter.Closes()
			refused := func(op string, err error) {
				t.Helper()
				st := status.Convert(err)
				if st.Code() != codes.PermissionDenied || !strings.Contains(st.Message(), "connection_owner") || !strings.Contains(st.Message(), member.ID()) {
					t.Fatalf("%s by %s: %v, want PermissionDenied by connection_owner", op, member.ID(), err)
				}
				after := stateOf(d)
				if fmt.Sprint(after.held) != fmt.Sprint(before.held) || fmt.Sprint(after.programs) != fmt.Sprint(before.programs) ||
					fmt.Sprint(after.unprograms) != fmt.Sprint(before.unprograms) {
					t.Fatalf("after the refused %s: hops hold %v, programs %v, unprograms %v; before %v, %v, %v",
						op, after.held, after.programs, after.unprograms, before.held, before.programs, before.unprograms)
				}
				if nse.Counter.Requests() != requests || nse.Counter.Closes() != closes {
					t.Fatalf("the refused %s reached the endpoint", op)
				}
			}
			_, err = evil.Request(shortCtx(ctx, t), restartedRequest("nsc-0"))
			refused("request", err)
			// A client chain closes only what it opened: the Close goes
			// straight to the nsmgr, with the path a restarted client knows.
			cc, err := grpc.NewClient(grpcutils.Target(n.NSMgr.UnixURL()), member.DialOptions()...)
			if err != nil {
				t.Fatal(err)
			}
			defer cc.Close()
			_, err = networkservice.NewNetworkServiceClient(cc).Close(shortCtx(ctx, t), &networkservice.Connection{
				Id: "nsc-0", NetworkService: "red",
				Path: &networkservice.Path{PathSegments: []*networkservice.PathSegment{{Name: "nsc", Id: "nsc-0"}}},
			})
			refused("close", err)

			// The owner's connection refreshes (same path) and closes.
			refreshed, err := victim.Request(ctx, &networkservice.NetworkServiceRequest{Connection: conn.Clone()})
			if err != nil {
				t.Fatal(err)
			}
			sameSegments(t, conn, refreshed)
			if _, err := victim.Close(ctx, refreshed); err != nil {
				t.Fatal(err)
			}
			for hop, l := range stateOf(d).held {
				if l != 0 {
					t.Errorf("%s holds %d connections after the owner's Close", hop, l)
				}
			}
		})
	}
}
