// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package liveness_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	kernelmech "github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/kernel"
	"github.com/nsmesh/nsmesh/sdk/networkservice/liveness"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var runID = func() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%d%s", os.Getpid()%10000, hex.EncodeToString(b))
}()

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN, CAP_NET_RAW) to create namespaces and veth pairs")
	}
}

// newNS creates the named namespace /run/netns/<name>, removed at cleanup.
func newNS(t *testing.T, tag string) (name string, h netns.NsHandle) {
	t.Helper()
	name = fmt.Sprintf("nsml-%s-%s", runID, tag)
	type result struct {
		h   netns.NsHandle
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: err}
			return
		}
		defer func() { _ = orig.Close() }()
		h, err := netns.NewNamed(name)
		if serr := netns.Set(orig); serr != nil {
			ch <- result{err: errors.Join(err, serr)} // the thread stays locked and dies
			return
		}
		runtime.UnlockOSThread()
		ch <- result{h: h, err: err}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatalf("create netns %s: %v", name, r.err)
	}
	t.Cleanup(func() {
		_ = r.h.Close()
		_ = netns.DeleteNamed(name)
	})
	return name, r.h
}

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
	cName, cNS := newNS(t, tag+"c")
	sName, sNS := newNS(t, tag+"s")
	p := &pair{clientNS: cName, serverNS: sName, ifname: "nsm-" + tag, serverLink: "srv-" + tag}
	la := netlink.NewLinkAttrs()
	la.Name = p.ifname
	la.Namespace = netlink.NsFd(cNS)
	veth := &netlink.Veth{LinkAttrs: la, PeerName: p.serverLink, PeerNamespace: netlink.NsFd(sNS)}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatalf("add veth: %v", err)
	}
	for _, side := range []struct {
		ns   netns.NsHandle
		link string
		ip   string
	}{{cNS, p.ifname, clientIP}, {sNS, p.serverLink, serverIP}} {
		h, err := netlink.NewHandleAt(side.ns)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(h.Close)
		l, err := h.LinkByName(side.link)
		if err != nil {
			t.Fatal(err)
		}
		addr, err := netlink.ParseAddr(side.ip)
		if err != nil {
			t.Fatal(err)
		}
		if addr.IP.To4() == nil {
			// No duplicate address detection: the address is usable at once.
			addr.Flags |= unix.IFA_F_NODAD
		}
		if err := h.AddrAdd(l, addr); err != nil {
			t.Fatal(err)
		}
		if err := h.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
		if side.ns == sNS {
			p.serverHandle = h
		}
	}
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
	requireRoot(t)
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
	requireRoot(t)
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
	requireRoot(t)
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
