// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package kernel_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sort"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/nsmesh/nsmesh/sdk/dataplane/kernel"
)

// runID makes the names of this test binary's namespaces unique.
var runID = func() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%d%s", os.Getpid()%10000, hex.EncodeToString(b))
}()

func requireRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) to create network namespaces and links")
	}
}

func testLogger(tb testing.TB) logrus.FieldLogger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	if testing.Verbose() {
		l.SetOutput(os.Stderr)
		l.SetLevel(logrus.DebugLevel)
	}
	return l.WithField("test", tb.Name())
}

// newNS creates a named namespace nsmt-<run>-<tag> and removes it when the
// test ends, whatever the outcome.
func newNS(tb testing.TB, tag string) *kernel.NetNS {
	tb.Helper()
	name := fmt.Sprintf("nsmt-%s-%s", runID, tag)
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer func() { _ = orig.Close() }()
		h, err := netns.NewNamed(name)
		if err == nil {
			_ = h.Close()
		}
		if serr := netns.Set(orig); serr != nil {
			errc <- errors.Join(err, serr) // the thread stays locked and dies
			return
		}
		runtime.UnlockOSThread()
		errc <- err
	}()
	if err := <-errc; err != nil {
		_ = netns.DeleteNamed(name)
		tb.Fatalf("create netns %s: %v", name, err)
	}
	ns, err := kernel.OpenNetNS(name)
	if err != nil {
		_ = netns.DeleteNamed(name)
		tb.Fatalf("open netns %s: %v", name, err)
	}
	tb.Cleanup(func() {
		_ = ns.Close()
		if err := netns.DeleteNamed(name); err != nil {
			tb.Errorf("delete netns %s: %v", name, err)
		}
	})
	return ns
}

func handle(tb testing.TB, ns *kernel.NetNS) *netlink.Handle {
	tb.Helper()
	h, err := netlink.NewHandleAt(netns.NsHandle(ns.Fd()))
	if err != nil {
		tb.Fatalf("netlink handle: %v", err)
	}
	tb.Cleanup(h.Close)
	return h
}

// linkNames lists the links in ns except lo, sorted.
func linkNames(tb testing.TB, ns *kernel.NetNS) []string {
	tb.Helper()
	links, err := handle(tb, ns).LinkList()
	if err != nil {
		tb.Fatalf("list links: %v", err)
	}
	var names []string
	for _, l := range links {
		if l.Attrs().Name != "lo" {
			names = append(names, l.Attrs().Name)
		}
	}
	sort.Strings(names)
	return names
}

// addrs lists the global addresses on name in ns.
func addrs(tb testing.TB, ns *kernel.NetNS, name string) []string {
	tb.Helper()
	h := handle(tb, ns)
	l, err := h.LinkByName(name)
	if err != nil {
		tb.Fatalf("link %s: %v", name, err)
	}
	list, err := h.AddrList(l, netlink.FAMILY_ALL)
	if err != nil {
		tb.Fatalf("addresses of %s: %v", name, err)
	}
	var out []string
	for _, a := range list {
		if a.Scope == 0 {
			out = append(out, a.IPNet.String())
		}
	}
	sort.Strings(out)
	return out
}

// routes lists "dst via gw" of the kernel package's routes on name in ns.
func routes(tb testing.TB, ns *kernel.NetNS, name string) []string {
	tb.Helper()
	h := handle(tb, ns)
	l, err := h.LinkByName(name)
	if err != nil {
		tb.Fatalf("link %s: %v", name, err)
	}
	list, err := h.RouteListFiltered(netlink.FAMILY_ALL,
		&netlink.Route{LinkIndex: l.Attrs().Index, Protocol: kernel.RouteProtocol},
		netlink.RT_FILTER_OIF|netlink.RT_FILTER_PROTOCOL)
	if err != nil {
		tb.Fatalf("routes of %s: %v", name, err)
	}
	var out []string
	for _, r := range list {
		s := r.Dst.String()
		if r.Gw != nil {
			s += " via " + r.Gw.String()
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// setLinkUp brings up lo in ns so that local sockets behave normally.
func setLoUp(tb testing.TB, ns *kernel.NetNS) {
	tb.Helper()
	h := handle(tb, ns)
	lo, err := h.LinkByName("lo")
	if err == nil {
		err = h.LinkSetUp(lo)
	}
	if err != nil {
		tb.Fatalf("lo up: %v", err)
	}
}

// ping sends ICMP echo requests from src (inside ns) to dst and waits for a
// matching reply; iputils ping is not assumed to be installed.
func ping(ns *kernel.NetNS, src, dst netip.Addr) error {
	network, proto := "ip4:icmp", 1
	var reqType, replyType icmp.Type = ipv4.ICMPTypeEcho, ipv4.ICMPTypeEchoReply
	if dst.Is6() {
		network, proto = "ip6:ipv6-icmp", 58
		reqType, replyType = ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply
	}
	var conn *icmp.PacketConn
	if err := ns.Do(func() error {
		c, err := icmp.ListenPacket(network, src.String())
		conn = c
		return err
	}); err != nil {
		return fmt.Errorf("listen icmp in %s: %w", ns, err)
	}
	defer func() { _ = conn.Close() }()
	id := os.Getpid() & 0xffff
	payload := make([]byte, 32)
	_, _ = rand.Read(payload)
	buf := make([]byte, 1500)
	for seq := 1; seq <= 3; seq++ {
		msg := icmp.Message{Type: reqType, Body: &icmp.Echo{ID: id, Seq: seq, Data: payload}}
		wire, err := msg.Marshal(nil)
		if err != nil {
			return err
		}
		if _, err := conn.WriteTo(wire, &net.IPAddr{IP: dst.AsSlice()}); err != nil {
			return fmt.Errorf("send echo %s -> %s: %w", src, dst, err)
		}
		deadline := time.Now().Add(time.Second)
		_ = conn.SetReadDeadline(deadline)
		for time.Now().Before(deadline) {
			n, peer, err := conn.ReadFrom(buf)
			if err != nil {
				break
			}
			reply, err := icmp.ParseMessage(proto, buf[:n])
			if err != nil || reply.Type != replyType {
				continue
			}
			echo, ok := reply.Body.(*icmp.Echo)
			pa, _ := netip.ParseAddr(peer.String())
			if ok && echo.Seq == seq && bytes.Equal(echo.Data, payload) && pa == dst {
				return nil
			}
		}
	}
	return fmt.Errorf("no echo reply from %s to %s in %s", dst, src, ns)
}

// tcpTransfer sends size random bytes from client (in cns) to server (in
// sns) over TCP and checks they arrive intact.
func tcpTransfer(cns *kernel.NetNS, client netip.Addr, sns *kernel.NetNS, server netip.Addr, size int) error {
	var ln net.Listener
	if err := sns.Do(func() error {
		l, err := net.Listen("tcp", netip.AddrPortFrom(server, 0).String())
		ln = l
		return err
	}); err != nil {
		return fmt.Errorf("listen in %s: %w", sns, err)
	}
	defer func() { _ = ln.Close() }()
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer func() { _ = c.Close() }()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		h := sha256.New()
		_, _ = io.Copy(h, c)
		got <- h.Sum(nil)
	}()
	data := make([]byte, size)
	_, _ = rand.Read(data)
	want := sha256.Sum256(data)
	var conn net.Conn
	if err := cns.Do(func() error {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: client.AsSlice()}, Timeout: 5 * time.Second}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := d.DialContext(ctx, "tcp", ln.Addr().String())
		conn = c
		return err
	}); err != nil {
		return fmt.Errorf("dial %s from %s: %w", ln.Addr(), client, err)
	}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	_, werr := conn.Write(data)
	cerr := conn.Close()
	if err := errors.Join(werr, cerr); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	sum := <-got
	if !bytes.Equal(sum, want[:]) {
		return fmt.Errorf("received data differs from sent data (%d bytes)", size)
	}
	return nil
}

func mustAddr(s string) netip.Addr { return netip.MustParsePrefix(s).Addr() }
