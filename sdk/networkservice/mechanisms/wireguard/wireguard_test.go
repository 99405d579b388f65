// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package wireguard_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	apiwg "github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/wireguard"
	"github.com/nsmesh/nsmesh/sdk/core/begin"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/networkservice/mechanisms"
	"github.com/nsmesh/nsmesh/sdk/networkservice/mechanisms/vxlan"
	"github.com/nsmesh/nsmesh/sdk/networkservice/mechanisms/wireguard"
)

// remote ends the client forwarder's chain: it hands the request to the
// endpoint-side forwarder's chain, as the remote nsmgr would, and lets a test
// tamper with the reply or fail.
type remote struct {
	srv    networkservice.NetworkServiceServer
	tamper func(*networkservice.Connection)
	fail   error
	closed int
}

func (r *remote) Request(ctx context.Context, req *networkservice.NetworkServiceRequest, _ ...grpc.CallOption) (*networkservice.Connection, error) {
	if r.fail != nil {
		return nil, r.fail
	}
	conn, err := r.srv.Request(context.Background(), req.Clone())
	if err != nil {
		return nil, err
	}
	conn = conn.Clone()
	if r.tamper != nil {
		r.tamper(conn)
	}
	return conn, nil
}

func (r *remote) Close(_ context.Context, conn *networkservice.Connection, _ ...grpc.CallOption) (*emptypb.Empty, error) {
	r.closed++
	return r.srv.Close(context.Background(), conn.Clone())
}

// node is one forwarder's WireGuard negotiation.
type node struct {
	ip    net.IP
	alloc *wireguard.Allocator
}

func newNode(t *testing.T, ip string, ports wireguard.PortRange) node {
	t.Helper()
	a, err := wireguard.NewAllocator(ports)
	if err != nil {
		t.Fatal(err)
	}
	return node{ip: net.ParseIP(ip), alloc: a}
}

// server is the endpoint-side forwarder's mechanism handling: begin, then
// the dispatcher over WIREGUARD and VXLAN.
func (n node) server(t *testing.T) networkservice.NetworkServiceServer {
	t.Helper()
	wg, err := wireguard.NewServer(n.ip, n.alloc)
	if err != nil {
		t.Fatal(err)
	}
	return chain.NewServer(begin.NewServer(), mechanisms.NewServer(map[string]networkservice.NetworkServiceServer{
		apiwg.MECHANISM: wg,
		"VXLAN":         vxlan.NewServer(n.ip, 0),
	}))
}

func (n node) wgClient(t *testing.T) networkservice.NetworkServiceClient {
	t.Helper()
	c, err := wireguard.NewClient(n.ip, n.alloc)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// client is the client-side forwarder's remote offer in front of r.
func (n node) client(t *testing.T, r *remote, opts ...wireguard.SelectOption) networkservice.NetworkServiceClient {
	t.Helper()
	return chain.NewClient(begin.NewClient(nil),
		wireguard.NewSelectClient(n.wgClient(t), vxlan.NewClient(n.ip, 0), "VXLAN", opts...), r)
}

func request(id string) *networkservice.NetworkServiceRequest {
	return &networkservice.NetworkServiceRequest{Connection: &networkservice.Connection{Id: id, NetworkService: "svc", Payload: "IP"}}
}

// refresh is what a refresh sends: the connection as last returned.
func refresh(conn *networkservice.Connection) *networkservice.NetworkServiceRequest {
	return &networkservice.NetworkServiceRequest{Connection: conn.Clone()}
}

func held(a *wireguard.Allocator) string {
	p, k := a.InUse()
	return fmt.Sprintf("%d ports %d keys", p, k)
}

func TestNegotiation(t *testing.T) {
	for _, tc := range []struct{ name, src, dst string }{
		{"ipv4", "192.0.2.1", "192.0.2.2"},
		{"ipv6", "2001:db8::1", "2001:db8::2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			a, b := newNode(t, tc.src, wireguard.DefaultPortRange), newNode(t, tc.dst, wireguard.DefaultPortRange)
			r := &remote{srv: b.server(t)}
			cli := a.client(t, r)
			conn, err := cli.Request(ctx, request("c1"))
			if err != nil {
				t.Fatal(err)
			}
			m := apiwg.ToMechanism(conn.GetMechanism())
			if m == nil || conn.GetMechanism().GetCls() != "REMOTE" {
				t.Fatalf("mechanism %v, want REMOTE/WIREGUARD", conn.GetMechanism())
			}
			if !m.SrcIP().Equal(a.ip) || !m.DstIP().Equal(b.ip) {
				t.Errorf("tunnel %s -> %s", m.SrcIP(), m.DstIP())
			}
			sp, _ := m.SrcPort()
			dp, _ := m.DstPort()
			if !wireguard.DefaultPortRange.Contains(sp) || !wireguard.DefaultPortRange.Contains(dp) {
				t.Errorf("ports %d, %d outside %s", sp, dp, wireguard.DefaultPortRange)
			}
			// Each side knows the private key of its own public key only.
			sk, err1 := m.SrcPublicKey()
			dk, err2 := m.DstPublicKey()
			if err := errors.Join(err1, err2); err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				who        string
				alloc      *wireguard.Allocator
				own, other apiwg.Key
			}{{"client side", a.alloc, sk, dk}, {"endpoint side", b.alloc, dk, sk}} {
				priv, ok := c.alloc.PrivateKey(c.own)
				if !ok {
					t.Fatalf("%s has no private key for its public key", c.who)
				}
				if pub, _ := wireguard.PublicKey(priv); pub != c.own {
					t.Errorf("%s: private key does not match the published public key", c.who)
				}
				if _, ok := c.alloc.PrivateKey(c.other); ok {
					t.Errorf("%s holds the peer's private key", c.who)
				}
			}
			if sk == dk {
				t.Error("both sides published the same key")
			}

			// Refreshes keep keys and ports on both sides.
			for range 3 {
				again, err := cli.Request(ctx, refresh(conn))
				if err != nil {
					t.Fatal(err)
				}
				if got, want := again.GetMechanism().GetParameters(), conn.GetMechanism().GetParameters(); fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("refresh changed the mechanism:\n got %v\nwant %v", got, want)
				}
			}
			if held(a.alloc) != "1 ports 1 keys" || held(b.alloc) != "1 ports 1 keys" {
				t.Errorf("after refreshes: client %s, endpoint %s", held(a.alloc), held(b.alloc))
			}

			if _, err := cli.Close(ctx, conn); err != nil {
				t.Fatal(err)
			}
			if held(a.alloc) != "0 ports 0 keys" || held(b.alloc) != "0 ports 0 keys" {
				t.Errorf("after Close: client %s, endpoint %s", held(a.alloc), held(b.alloc))
			}
			if _, ok := a.alloc.PrivateKey(sk); ok {
				t.Error("a closed connection's private key is still known")
			}
		})
	}
}

func TestConnectionsGetTheirOwnPortsAndKeys(t *testing.T) {
	ctx := context.Background()
	a, b := newNode(t, "192.0.2.1", wireguard.DefaultPortRange), newNode(t, "192.0.2.2", wireguard.DefaultPortRange)
	cli := a.client(t, &remote{srv: b.server(t)})
	ports := map[string]bool{}
	keys := map[string]bool{}
	var conns []*networkservice.Connection
	for i := range 50 {
		conn, err := cli.Request(ctx, request(fmt.Sprintf("c%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, conn)
		p := conn.GetMechanism().GetParameters()
		for _, k := range []string{"src_port", "dst_port", "src_public_key", "dst_public_key"} {
			set := ports
			if k[4:] == "public_key" {
				set = keys
			}
			id := k[:3] + p[k]
			if set[id] {
				t.Fatalf("connection %d reuses %s %s", i, k, p[k])
			}
			set[id] = true
		}
	}
	for _, c := range conns {
		if _, err := cli.Close(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if held(a.alloc) != "0 ports 0 keys" || held(b.alloc) != "0 ports 0 keys" {
		t.Errorf("after Close: client %s, endpoint %s", held(a.alloc), held(b.alloc))
	}
}

func TestPortsRunOut(t *testing.T) {
	ctx := context.Background()
	two := wireguard.PortRange{First: 40000, Last: 40001}
	a, b := newNode(t, "192.0.2.1", wireguard.DefaultPortRange), newNode(t, "192.0.2.2", two)
	cli := a.client(t, &remote{srv: b.server(t)})
	c1, err1 := cli.Request(ctx, request("c1"))
	_, err2 := cli.Request(ctx, request("c2"))
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	_, err := cli.Request(ctx, request("c3"))
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("third connection over two ports: %v, want ResourceExhausted", err)
	}
	if held(a.alloc) != "2 ports 2 keys" || held(b.alloc) != "2 ports 2 keys" {
		t.Errorf("a failed Request kept its lease: client %s, endpoint %s", held(a.alloc), held(b.alloc))
	}
	if _, err := cli.Close(ctx, c1); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Request(ctx, request("c3")); err != nil {
		t.Fatalf("after a Close the port is free again: %v", err)
	}
}

func TestServerRejectsBadOffers(t *testing.T) {
	_, goodKey, _ := wireguard.GenerateKey()
	for _, tc := range []struct {
		name   string
		params map[string]string
	}{
		{"no src_ip", map[string]string{"src_port": "51820", "src_public_key": goodKey.String()}},
		{"src_ip of another family", map[string]string{"src_ip": "2001:db8::1", "src_port": "51820", "src_public_key": goodKey.String()}},
		{"no src_port", map[string]string{"src_ip": "192.0.2.1", "src_public_key": goodKey.String()}},
		{"src_port not a number", map[string]string{"src_ip": "192.0.2.1", "src_port": "x", "src_public_key": goodKey.String()}},
		{"src_port too large", map[string]string{"src_ip": "192.0.2.1", "src_port": "70000", "src_public_key": goodKey.String()}},
		{"no key", map[string]string{"src_ip": "192.0.2.1", "src_port": "51820"}},
		{"short key", map[string]string{"src_ip": "192.0.2.1", "src_port": "51820", "src_public_key": "AAAA"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newNode(t, "192.0.2.2", wireguard.DefaultPortRange)
			req := &networkservice.NetworkServiceRequest{Connection: &networkservice.Connection{Id: "x",
				Mechanism: &networkservice.Mechanism{Cls: "REMOTE", Type: apiwg.MECHANISM, Parameters: tc.params}}}
			_, err := b.server(t).Request(context.Background(), req)
			if status.Code(err) != codes.InvalidArgument {
				t.Fatalf("got %v, want InvalidArgument", err)
			}
			if held(b.alloc) != "0 ports 0 keys" {
				t.Errorf("a rejected offer allocated %s", held(b.alloc))
			}
		})
	}
}

func TestClientRejectsBadReplies(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tamper func(p map[string]string)
	}{
		{"src key replaced", func(p map[string]string) { _, k, _ := wireguard.GenerateKey(); p["src_public_key"] = k.String() }},
		{"src port replaced", func(p map[string]string) { p["src_port"] = "1" }},
		{"no dst key", func(p map[string]string) { delete(p, "dst_public_key") }},
		{"no dst port", func(p map[string]string) { delete(p, "dst_port") }},
		{"no dst ip", func(p map[string]string) { delete(p, "dst_ip") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := newNode(t, "192.0.2.1", wireguard.DefaultPortRange), newNode(t, "192.0.2.2", wireguard.DefaultPortRange)
			r := &remote{srv: b.server(t), tamper: func(c *networkservice.Connection) { tc.tamper(c.GetMechanism().GetParameters()) }}
			_, err := a.client(t, r).Request(context.Background(), request("c1"))
			if status.Code(err) != codes.Internal {
				t.Fatalf("got %v, want Internal", err)
			}
			if r.closed != 1 {
				t.Errorf("the endpoint side was closed %d times, want 1", r.closed)
			}
			if held(a.alloc) != "0 ports 0 keys" || held(b.alloc) != "0 ports 0 keys" {
				t.Errorf("client %s, endpoint %s; want nothing held", held(a.alloc), held(b.alloc))
			}
		})
	}
}

func TestFailedRequestReleases(t *testing.T) {
	a, b := newNode(t, "192.0.2.1", wireguard.DefaultPortRange), newNode(t, "192.0.2.2", wireguard.DefaultPortRange)
	r := &remote{fail: status.Error(codes.Unavailable, "no route")}
	if _, err := a.client(t, r).Request(context.Background(), request("c1")); status.Code(err) != codes.Unavailable {
		t.Fatalf("got %v", err)
	}
	if held(a.alloc) != "0 ports 0 keys" {
		t.Errorf("client kept %s", held(a.alloc))
	}
	// The endpoint side fails after the WireGuard server ran.
	failing := chain.NewServer(begin.NewServer(), mustServer(t, b), &failServer{})
	req := request("c2")
	req.Connection.Mechanism = apiwg.New(a.ip, apiwg.Key{1})
	apiwg.ToMechanism(req.Connection.Mechanism).SetSrcPort(51820)
	if _, err := failing.Request(context.Background(), req); err == nil {
		t.Fatal("want the error of the next element")
	}
	if held(b.alloc) != "0 ports 0 keys" {
		t.Errorf("endpoint side kept %s", held(b.alloc))
	}
}

func mustServer(t *testing.T, n node) networkservice.NetworkServiceServer {
	t.Helper()
	s, err := wireguard.NewServer(n.ip, n.alloc)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type failServer struct{}

func (failServer) Request(context.Context, *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	return nil, status.Error(codes.Internal, "data plane failed")
}

func (failServer) Close(context.Context, *networkservice.Connection) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

// TestPeerRestart: the endpoint-side forwarder lost its state (restart); the
// client's refresh gets new endpoint-side keys and port while its own stay.
func TestPeerRestart(t *testing.T) {
	ctx := context.Background()
	a, b := newNode(t, "192.0.2.1", wireguard.DefaultPortRange), newNode(t, "192.0.2.2", wireguard.DefaultPortRange)
	r := &remote{srv: b.server(t)}
	cli := a.client(t, r)
	conn, err := cli.Request(ctx, request("c1"))
	if err != nil {
		t.Fatal(err)
	}
	restarted := newNode(t, "192.0.2.2", wireguard.DefaultPortRange)
	r.srv = restarted.server(t)
	again, err := cli.Request(ctx, refresh(conn))
	if err != nil {
		t.Fatal(err)
	}
	before, after := conn.GetMechanism().GetParameters(), again.GetMechanism().GetParameters()
	if before["src_public_key"] != after["src_public_key"] || before["src_port"] != after["src_port"] {
		t.Error("the client side changed")
	}
	k, _ := apiwg.ParseKey(after["dst_public_key"])
	if _, ok := restarted.alloc.PrivateKey(k); !ok {
		t.Error("the restarted side published a key it does not hold")
	}
}

func TestConstructorsCheckArguments(t *testing.T) {
	a, _ := wireguard.NewAllocator(wireguard.DefaultPortRange)
	for _, ip := range []net.IP{nil, net.IPv4zero, net.ParseIP("224.0.0.1")} {
		if _, err := wireguard.NewClient(ip, a); err == nil {
			t.Errorf("NewClient(%v) accepted", ip)
		}
		if _, err := wireguard.NewServer(ip, a); err == nil {
			t.Errorf("NewServer(%v) accepted", ip)
		}
	}
	if _, err := wireguard.NewClient(net.ParseIP("192.0.2.1"), nil); err == nil {
		t.Error("NewClient without allocator accepted")
	}
	if _, err := wireguard.NewServer(net.ParseIP("192.0.2.1"), nil); err == nil {
		t.Error("NewServer without allocator accepted")
	}
}
