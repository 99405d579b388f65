// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package point2point_test

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"go.uber.org/goleak"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/core/begin"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/networkservice/ipam/point2point"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// tail can fail Requests on demand.
type tail struct{ fail bool }

func (t *tail) Request(_ context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	if t.fail {
		return nil, status.Error(codes.Internal, "mechanism failed")
	}
	return req.GetConnection(), nil
}

func (t *tail) Close(context.Context, *networkservice.Connection) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

type env struct {
	t    *testing.T
	srv  networkservice.NetworkServiceServer
	tail *tail
}

func newEnv(t *testing.T, prefixes string) *env {
	t.Helper()
	ps, err := point2point.ParsePrefixes(prefixes)
	if err != nil {
		t.Fatal(err)
	}
	ipam, err := point2point.NewServer(ps)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, tail: &tail{}}
	e.srv = chain.NewServer(begin.NewServer(), ipam, e.tail)
	return e
}

func request(id string, ipc *networkservice.IPContext) *networkservice.NetworkServiceRequest {
	return &networkservice.NetworkServiceRequest{Connection: &networkservice.Connection{
		Id: id, Context: &networkservice.ConnectionContext{IpContext: ipc},
	}}
}

func (e *env) request(id string, ipc *networkservice.IPContext) (*networkservice.IPContext, error) {
	conn, err := e.srv.Request(context.Background(), request(id, ipc))
	if err != nil {
		return nil, err
	}
	return conn.GetContext().GetIpContext(), nil
}

func (e *env) mustRequest(id string, ipc *networkservice.IPContext) *networkservice.IPContext {
	e.t.Helper()
	got, err := e.request(id, ipc)
	if err != nil {
		e.t.Fatal(err)
	}
	return got
}

func (e *env) close(id string) {
	e.t.Helper()
	if _, err := e.srv.Close(context.Background(), &networkservice.Connection{Id: id}); err != nil {
		e.t.Fatal(err)
	}
}

func routes(rs []*networkservice.Route) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.GetPrefix())
	}
	return out
}

func check(t *testing.T, ipc *networkservice.IPContext, src, dst []string) {
	t.Helper()
	if !slices.Equal(ipc.GetSrcIpAddrs(), src) || !slices.Equal(ipc.GetDstIpAddrs(), dst) {
		t.Fatalf("src %v dst %v, want src %v dst %v", ipc.GetSrcIpAddrs(), ipc.GetDstIpAddrs(), src, dst)
	}
	if !slices.Equal(routes(ipc.GetSrcRoutes()), dst) || !slices.Equal(routes(ipc.GetDstRoutes()), src) {
		t.Fatalf("src routes %v dst routes %v, want %v and %v", routes(ipc.GetSrcRoutes()), routes(ipc.GetDstRoutes()), dst, src)
	}
}

func TestAllocation(t *testing.T) {
	tests := []struct {
		name     string
		prefixes string
		conns    int
		excluded []string
		wantSrc  []string // of the last connection
		wantDst  []string
	}{
		{name: "network address is used", prefixes: "192.168.0.0/16", conns: 1, wantDst: []string{"192.168.0.0/32"}, wantSrc: []string{"192.168.0.1/32"}},
		{name: "next connection gets the next pair", prefixes: "192.168.0.0/16", conns: 2, wantDst: []string{"192.168.0.2/32"}, wantSrc: []string{"192.168.0.3/32"}},
		{name: "dual stack", prefixes: "10.0.0.0/24,fd00::/64", conns: 1, wantDst: []string{"10.0.0.0/32", "fd00::/128"}, wantSrc: []string{"10.0.0.1/32", "fd00::1/128"}},
		{name: "full pool moves on to the next", prefixes: "10.0.0.0/31 10.1.0.0/24", conns: 2, wantDst: []string{"10.1.0.0/32"}, wantSrc: []string{"10.1.0.1/32"}},
		{name: "excluded prefixes are skipped", prefixes: "10.0.0.0/29", conns: 1, excluded: []string{"10.0.0.0/30", "10.0.0.5/32"}, wantDst: []string{"10.0.0.4/32"}, wantSrc: []string{"10.0.0.6/32"}},
		{name: "a large IPv6 range excluded is one step", prefixes: "fd00::/64", conns: 1, excluded: []string{"fd00::/65"}, wantDst: []string{"fd00::8000:0:0:0/128"}, wantSrc: []string{"fd00::8000:0:0:1/128"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.prefixes)
			var ipc *networkservice.IPContext
			for i := 0; i < tt.conns; i++ {
				ipc = e.mustRequest(fmt.Sprint("c", i), &networkservice.IPContext{ExcludedPrefixes: tt.excluded})
			}
			check(t, ipc, tt.wantSrc, tt.wantDst)
		})
	}
}

func TestRefreshKeepsAddresses(t *testing.T) {
	e := newEnv(t, "10.0.0.0/24,fd00::/64")
	first := e.mustRequest("c1", nil)
	e.mustRequest("c2", nil)
	for i := 0; i < 3; i++ {
		again := e.mustRequest("c1", first) // a refresh carries the returned context
		check(t, again, first.GetSrcIpAddrs(), first.GetDstIpAddrs())
	}
}

func TestNewExclusionReallocates(t *testing.T) {
	e := newEnv(t, "10.0.0.0/30,fd00::/126")
	first := e.mustRequest("c1", nil)
	ipc := first
	ipc.ExcludedPrefixes = []string{"10.0.0.1/32"}
	again := e.mustRequest("c1", ipc)
	// The IPv4 pair moves (the /30 has only .2 and .3 left), IPv6 stays.
	check(t, again, []string{"fd00::1/128", "10.0.0.3/32"}, []string{"fd00::/128", "10.0.0.2/32"})
	// The old IPv4 pair is free again: with .2/.3 taken, only .0/.1 remain.
	other := e.mustRequest("c2", nil)
	check(t, other, []string{"10.0.0.1/32", "fd00::3/128"}, []string{"10.0.0.0/32", "fd00::2/128"})
	if _, err := e.request("c3", nil); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("want exhaustion, got %v", err)
	}
}

func TestExhaustionAndRelease(t *testing.T) {
	tests := []struct {
		name  string
		free  func(e *env)
		fills bool // the failed attempt must not hold addresses either
	}{
		{name: "Close frees", free: func(e *env) { e.close("c1") }},
		{name: "failed first Request frees", free: func(e *env) {
			e.tail.fail = true
			if _, err := e.request("c9", nil); err == nil {
				e.t.Fatal("want failure")
			}
			e.tail.fail = false
			e.close("c1")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, "10.0.0.0/30")
			e.mustRequest("c1", nil)
			e.mustRequest("c2", nil)
			_, err := e.request("c3", nil)
			if status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "no free addresses in [10.0.0.0/30]") {
				t.Fatalf("got %v, want ResourceExhausted naming the pool", err)
			}
			tt.free(e)
			e.mustRequest("c3", nil)
		})
	}
}

func TestFailedRefreshKeepsAddresses(t *testing.T) {
	e := newEnv(t, "10.0.0.0/30")
	first := e.mustRequest("c1", nil)
	e.tail.fail = true
	if _, err := e.request("c1", first); err == nil {
		t.Fatal("want failure")
	}
	e.tail.fail = false
	check(t, e.mustRequest("c1", first), first.GetSrcIpAddrs(), first.GetDstIpAddrs())
	e.mustRequest("c2", nil)
	if _, err := e.request("c3", nil); status.Code(err) != codes.ResourceExhausted {
		t.Fatal("the failed refresh leaked or freed addresses")
	}
}

func TestRecovery(t *testing.T) {
	tests := []struct {
		name    string
		carried *networkservice.IPContext
		taken   bool // another connection took the addresses first
		wantSrc []string
		wantDst []string
	}{
		{
			name:    "request's addresses recovered after a restart",
			carried: &networkservice.IPContext{SrcIpAddrs: []string{"10.0.0.7/32"}, DstIpAddrs: []string{"10.0.0.6/32"}, SrcRoutes: []*networkservice.Route{{Prefix: "10.0.0.6/32"}}, DstRoutes: []*networkservice.Route{{Prefix: "10.0.0.7/32"}}},
			wantSrc: []string{"10.0.0.7/32"}, wantDst: []string{"10.0.0.6/32"},
		},
		{
			name:    "addresses taken meanwhile: new ones, stale ones removed",
			carried: &networkservice.IPContext{SrcIpAddrs: []string{"10.0.0.1/32"}, DstIpAddrs: []string{"10.0.0.0/32"}, SrcRoutes: []*networkservice.Route{{Prefix: "10.0.0.0/32"}}, DstRoutes: []*networkservice.Route{{Prefix: "10.0.0.1/32"}}},
			taken:   true,
			wantSrc: []string{"10.0.0.3/32"}, wantDst: []string{"10.0.0.2/32"},
		},
		{
			name:    "addresses outside the pools are left alone",
			carried: &networkservice.IPContext{SrcIpAddrs: []string{"172.16.0.1/32"}, DstIpAddrs: []string{"172.16.0.2/32"}},
			wantSrc: []string{"172.16.0.1/32", "10.0.0.1/32"}, wantDst: []string{"172.16.0.2/32", "10.0.0.0/32"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, "10.0.0.0/24")
			if tt.taken {
				e.mustRequest("other", nil)
			}
			got := e.mustRequest("c1", tt.carried)
			if !slices.Equal(got.GetSrcIpAddrs(), tt.wantSrc) || !slices.Equal(got.GetDstIpAddrs(), tt.wantDst) {
				t.Fatalf("src %v dst %v, want %v %v", got.GetSrcIpAddrs(), got.GetDstIpAddrs(), tt.wantSrc, tt.wantDst)
			}
			for _, r := range append(got.GetSrcRoutes(), got.GetDstRoutes()...) {
				p := netip.MustParsePrefix(r.GetPrefix())
				if !slices.Contains(append(tt.wantSrc, tt.wantDst...), p.String()) {
					t.Fatalf("stale route %s left", p)
				}
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	e := newEnv(t, "10.0.0.0/24")
	_, err := e.request("c1", &networkservice.IPContext{ExcludedPrefixes: []string{"10.0.0.0/33"}})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "10.0.0.0/33") {
		t.Fatalf("got %v, want InvalidArgument naming the prefix", err)
	}

	for _, bad := range [][]netip.Prefix{
		nil,
		{netip.MustParsePrefix("10.0.0.0/24"), netip.MustParsePrefix("10.0.0.128/25")},
		{netip.MustParsePrefix("10.0.0.1/32")},
		{{}},
	} {
		if _, err := point2point.NewServer(bad); err == nil {
			t.Fatalf("NewServer(%v) accepted", bad)
		}
	}
	for _, bad := range []string{"", "10.0.0.0", "10.0.0.0/24,nope", "fd00::/129"} {
		if _, err := point2point.ParsePrefixes(bad); err == nil {
			t.Fatalf("ParsePrefixes(%q) accepted", bad)
		}
	}

	ipam, _ := point2point.NewServer([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")})
	if _, err := chain.NewServer(ipam).Request(context.Background(), request("c1", nil)); status.Code(err) != codes.Internal {
		t.Fatalf("without begin: %v, want Internal", err)
	}
}

func FuzzParsePrefixes(f *testing.F) {
	for _, s := range []string{"10.0.0.0/24", "10.0.0.0/24, fd00::/64", "192.168.1.7/16", " ,", "::/0", "1.2.3.4/32\tfe80::1/10"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ps, err := point2point.ParsePrefixes(s)
		if err != nil {
			return
		}
		for _, p := range ps {
			if !p.IsValid() || p != p.Masked() {
				t.Fatalf("%q gave %v, not a valid masked prefix", s, p)
			}
		}
	})
}

func FuzzAllocate(f *testing.F) {
	f.Add("10.0.0.0/28", "10.0.0.0/30,10.0.0.9/32", uint8(5))
	f.Add("fd00::/120", "fd00::/121", uint8(3))
	f.Add("10.0.0.0/30,fd00::/126", "", uint8(3))
	f.Fuzz(func(t *testing.T, prefixes, excluded string, n uint8) {
		ps, err := point2point.ParsePrefixes(prefixes)
		if err != nil {
			return
		}
		ipam, err := point2point.NewServer(ps)
		if err != nil {
			return
		}
		ex := strings.FieldsFunc(excluded, func(r rune) bool { return r == ',' })
		var exPrefixes []netip.Prefix
		for _, x := range ex {
			p, err := netip.ParsePrefix(x)
			if err != nil {
				return
			}
			exPrefixes = append(exPrefixes, p.Masked())
		}
		srv := chain.NewServer(begin.NewServer(), ipam)
		seen := map[string]bool{}
		for i := 0; i < int(n%16); i++ {
			conn, err := srv.Request(context.Background(), request(fmt.Sprint("c", i), &networkservice.IPContext{ExcludedPrefixes: ex}))
			if err != nil {
				if status.Code(err) != codes.ResourceExhausted {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			ipc := conn.GetContext().GetIpContext()
			for _, a := range append(ipc.GetSrcIpAddrs(), ipc.GetDstIpAddrs()...) {
				p := netip.MustParsePrefix(a)
				if seen[a] {
					t.Fatalf("%s handed out twice", a)
				}
				seen[a] = true
				inPool := false
				for _, pool := range ps {
					inPool = inPool || pool.Contains(p.Addr())
				}
				if !inPool {
					t.Fatalf("%s outside the pools %v", a, ps)
				}
				for _, x := range exPrefixes {
					if x.Contains(p.Addr()) {
						t.Fatalf("%s is excluded by %s", a, x)
					}
				}
			}
		}
	})
}
