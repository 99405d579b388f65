// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package liveness_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"go.uber.org/goleak"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	kernelmech "github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/kernel"
	"github.com/nsmesh/nsmesh/sdk/internal/netnstest"
	"github.com/nsmesh/nsmesh/sdk/networkservice/liveness"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// pair is a veth pair between two namespaces with a /30 on each end: the
// client's end is "nsm-<tag>" in client.
type pair struct {
	clientNS, serverNS string
	ifname             string
	serverHandle       *netlink.Handle
	serverLink         string
}

func newPair(t *testing.T, tag string, clientIP, serverIP string) *pair {
	t.Helper()
	c, s := netnstest.New(t, tag+"c"), netnstest.New(t, tag+"s")
	p := &pair{clientNS: c.Name, serverNS: s.Name, ifname: "nsm-" + tag, serverLink: "srv-" + tag}
	netnstest.Veth(t,
		netnstest.End{NS: c.NetNS, Name: p.ifname, Addr: netip.MustParsePrefix(clientIP)},
		netnstest.End{NS: s.NetNS, Name: p.serverLink, Addr: netip.MustParsePrefix(serverIP)})
	p.serverHandle = netnstest.Handle(t, s.NetNS)
	return p
}

// ready waits until conn's peer answers: a new veth carries traffic only
// after the kernel's link watch noticed the carrier (up to a second).
func ready(t *testing.T, conn *networkservice.Connection) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := liveness.PingKernel(ctx, conn)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pair never carried traffic: %v", err)
		}
	}
}

func (p *pair) conn(netnsURL, src, dst string) *networkservice.Connection {
	m := kernelmech.New(netnsURL)
	kernelmech.ToMechanism(m).SetInterfaceName(p.ifname)
	return &networkservice.Connection{
		Id:        "c1",
		Mechanism: m,
		Context: &networkservice.ConnectionContext{IpContext: &networkservice.IPContext{
			SrcIpAddrs: []string{src},
			DstIpAddrs: []string{dst},
		}},
	}
}

func check(t *testing.T, conn *networkservice.Connection, d time.Duration, opts ...liveness.Option) (bool, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	start := time.Now()
	ok := liveness.NewKernelCheck(opts...)(ctx, conn)
	return ok, time.Since(start)
}

func TestKernelCheck(t *testing.T) {
	netnstest.RequireRoot(t)
	p4 := newPair(t, "4", "172.31.250.1/30", "172.31.250.2/30")
	p6 := newPair(t, "6", "fd00:5e:1::1/126", "fd00:5e:1::2/126")
	file := func(name string) string { return kernelmech.NetNSURLFromPath("/run/netns/" + name) }
	ready(t, p4.conn(file(p4.clientNS), "172.31.250.1/30", "172.31.250.2/32"))
	ready(t, p6.conn(file(p6.clientNS), "fd00:5e:1::1/126", "fd00:5e:1::2/128"))

	for _, tt := range []struct {
		name string
		conn *networkservice.Connection
		opts []liveness.Option
		want bool
	}{
		{"ipv4 peer answers", p4.conn(file(p4.clientNS), "172.31.250.1/30", "172.31.250.2/32"), nil, true},
		{"ipv6 peer answers", p6.conn(file(p6.clientNS), "fd00:5e:1::1/126", "fd00:5e:1::2/128"), nil, true},
		{"namespace given by option", p4.conn("inode://1/2", "172.31.250.1/30", "172.31.250.2/32"), []liveness.Option{liveness.WithNetNS(p4.clientNS)}, true},
		{"nobody at the destination", p4.conn(file(p4.clientNS), "172.31.250.1/30", "172.31.250.3/32"), nil, false},
		{"interface is gone", func() *networkservice.Connection {
			c := p4.conn(file(p4.clientNS), "172.31.250.1/30", "172.31.250.2/32")
			kernelmech.ToMechanism(c.GetMechanism()).SetInterfaceName("nsm-gone")
			return c
		}(), nil, false},
		{"wrong namespace (the destination is not routed here)", p4.conn(file(p6.clientNS), "", "172.31.250.2/32"), nil, false},
		{"not a kernel mechanism", &networkservice.Connection{Mechanism: &networkservice.Mechanism{Type: "MEMIF"}}, nil, true},
		{"no destination", p4.conn(file(p4.clientNS), "172.31.250.1/30", ""), nil, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "no destination" {
				tt.conn.GetContext().GetIpContext().DstIpAddrs = nil
			}
			if tt.name == "wrong namespace (the destination is not routed here)" {
				tt.conn.GetContext().GetIpContext().SrcIpAddrs = nil
				kernelmech.ToMechanism(tt.conn.GetMechanism()).SetInterfaceName("")
			}
			got, took := check(t, tt.conn, 500*time.Millisecond, tt.opts...)
			if got != tt.want {
				ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
				defer cancel()
				t.Fatalf("check = %v after %v, want %v (%v)", got, took, tt.want, liveness.PingKernel(ctx, tt.conn, tt.opts...))
			}
		})
	}
}

// The check notices a peer that stops answering within its timeout, and a
// peer that comes back.
func TestKernelCheckFollowsThePeer(t *testing.T) {
	netnstest.RequireRoot(t)
	p := newPair(t, "f", "172.31.251.1/30", "172.31.251.2/30")
	conn := p.conn(kernelmech.NetNSURLFromPath("/run/netns/"+p.clientNS), "172.31.251.1/30", "172.31.251.2/32")
	ready(t, conn)
	if ok, took := check(t, conn, time.Second); !ok {
		t.Fatalf("peer up: check false after %v", took)
	} else {
		t.Logf("peer up: answered in %v", took)
	}
	l, err := p.serverHandle.LinkByName(p.serverLink)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.serverHandle.LinkSetDown(l); err != nil {
		t.Fatal(err)
	}
	if ok, took := check(t, conn, 300*time.Millisecond); ok || took > 400*time.Millisecond {
		t.Fatalf("peer down: check %v after %v, want false by the 300ms timeout", ok, took)
	}
	if err := p.serverHandle.LinkSetUp(l); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if ok, _ := check(t, conn, 300*time.Millisecond); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("peer back up: the check never passed")
		}
	}
}

// The caller's own namespace: the URL names the calling thread, or an inode
// URL fd passing did not resolve; loopback answers there.
func TestKernelCheckOwnNamespace(t *testing.T) {
	netnstest.RequireRoot(t)
	for _, u := range []string{"file:///proc/thread-self/ns/net", "inode://4/4026531840"} {
		t.Run(u, func(t *testing.T) {
			m := kernelmech.New(u)
			conn := &networkservice.Connection{Mechanism: m, Context: &networkservice.ConnectionContext{IpContext: &networkservice.IPContext{
				DstIpAddrs: []string{"127.0.0.1/32"},
			}}}
			if ok, took := check(t, conn, 500*time.Millisecond); !ok {
				t.Fatalf("loopback did not answer within %v", took)
			}
		})
	}
}

func TestKernelCheckBadAddress(t *testing.T) {
	conn := &networkservice.Connection{Mechanism: kernelmech.New("file:///proc/thread-self/ns/net"),
		Context: &networkservice.ConnectionContext{IpContext: &networkservice.IPContext{DstIpAddrs: []string{"not-an-ip"}}}}
	err := liveness.PingKernel(context.Background(), conn)
	if err == nil {
		t.Fatal("want an error for a malformed address")
	}
	if ne := net.Error(nil); errors.As(err, &ne) {
		t.Fatalf("err %v: want a parse error, not a network error", err)
	}
}
