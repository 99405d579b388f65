// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package wireguard_test

import (
	"bytes"
	"context"
	"crypto/rand"
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

	"github.com/nsmesh/nsmesh/apis/networkservice"
	apiwg "github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/wireguard"
	"github.com/nsmesh/nsmesh/sdk/dataplane/kernel"
	"github.com/nsmesh/nsmesh/sdk/dataplane/wireguard"
	mechwg "github.com/nsmesh/nsmesh/sdk/networkservice/mechanisms/wireguard"
)

var runID = func() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%d%s", os.Getpid()%10000, hex.EncodeToString(b))
}()

func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) to create network namespaces and links")
	}
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func testLogger(t testing.TB) logrus.FieldLogger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	if testing.Verbose() {
		l.SetOutput(os.Stderr)
		l.SetLevel(logrus.DebugLevel)
	}
	return l.WithField("test", t.Name())
}

type testNS struct {
	*kernel.NetNS
	name string
}

// newNS creates the namespace nswg-<run>-<tag>; remove deletes it early
// (the test cleanup does otherwise).
func newNS(t testing.TB, tag string) (ns testNS, remove func()) {
	t.Helper()
	name := fmt.Sprintf("nswg-%s-%s", runID, tag)
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
			errc <- errors.Join(err, serr)
			return
		}
		runtime.UnlockOSThread()
		errc <- err
	}()
	if err := <-errc; err != nil {
		_ = netns.DeleteNamed(name)
		t.Fatalf("create netns %s: %v", name, err)
	}
	n, err := kernel.OpenNetNS(name)
	if err != nil {
		_ = netns.DeleteNamed(name)
		t.Fatalf("open netns %s: %v", name, err)
	}
	done := false
	remove = func() {
		if done {
			return
		}
		done = true
		_ = n.Close()
		if err := netns.DeleteNamed(name); err != nil {
			t.Errorf("delete netns %s: %v", name, err)
		}
	}
	t.Cleanup(remove)
	ns = testNS{NetNS: n, name: name}
	// A handle of its own, closed at once: an open netlink socket would keep
	// the namespace alive after remove.
	if h, err := netlink.NewHandleAt(netns.NsHandle(n.Fd())); err == nil {
		if l, err := h.LinkByName("lo"); err == nil {
			_ = h.LinkSetUp(l)
		}
		h.Close()
	}
	return ns, remove
}

func handle(t testing.TB, ns *kernel.NetNS) *netlink.Handle {
	t.Helper()
	h, err := netlink.NewHandleAt(netns.NsHandle(ns.Fd()))
	if err != nil {
		t.Fatalf("netlink handle: %v", err)
	}
	t.Cleanup(h.Close)
	return h
}

// links lists "name kind" of the links in ns other than lo.
func links(t testing.TB, ns testNS) []string {
	t.Helper()
	list, err := handle(t, ns.NetNS).LinkList()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range list {
		if l.Attrs().Name != "lo" {
			out = append(out, l.Attrs().Name+" "+l.Type())
		}
	}
	sort.Strings(out)
	return out
}

// topology: two nodes joined by a veth underlay, a workload on each.
type topology struct {
	nodeA, nodeB testNS
	wA, wB       testNS
	ipA, ipB     netip.Addr
	removeWB     func()
}

func newTopology(t testing.TB, tag string, ipA, ipB netip.Prefix) topology {
	t.Helper()
	var n topology
	n.nodeA, _ = newNS(t, tag+"na")
	n.nodeB, _ = newNS(t, tag+"nb")
	n.wA, _ = newNS(t, tag+"wa")
	n.wB, n.removeWB = newNS(t, tag+"wb")
	n.ipA, n.ipB = ipA.Addr(), ipB.Addr()
	ul := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "ul-a", MTU: 1500}, PeerName: "ul-b",
		PeerNamespace: netlink.NsFd(n.nodeB.Fd())}
	if err := handle(t, n.nodeA.NetNS).LinkAdd(ul); err != nil {
		t.Fatalf("underlay veth: %v", err)
	}
	for _, s := range []struct {
		ns   testNS
		name string
		addr netip.Prefix
	}{{n.nodeA, "ul-a", ipA}, {n.nodeB, "ul-b", ipB}} {
		if err := (kernel.InterfaceConfig{Addrs: []netip.Prefix{s.addr}}).Apply(testCtx(t), testLogger(t), s.ns.NetNS, s.name); err != nil {
			t.Fatalf("underlay address: %v", err)
		}
	}
	return n
}

// keys returns a fresh key pair.
func keys(t testing.TB) (private, public apiwg.Key) {
	t.Helper()
	private, public, err := mechwg.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return private, public
}

// ends returns the configurations of both ends of one connection.
func (n topology) ends(t testing.TB, portA, portB uint16) (a, b wireguard.Config) {
	t.Helper()
	privA, pubA := keys(t)
	privB, pubB := keys(t)
	mtu := wireguard.MTUFor(1500, n.ipB)
	a = wireguard.Config{
		Mark: kernel.Mark{Owner: "wg-" + runID + "-a", ConnID: "conn"}, Host: n.nodeA.NetNS,
		End: kernel.Endpoint{NS: n.wA.NetNS, Name: "nsm-wg"}, PrivateKey: privA, ListenPort: portA,
		Peer: wireguard.Peer{PublicKey: pubB, Endpoint: netip.AddrPortFrom(n.ipB, portB)}, MTU: mtu, Keepalive: 25 * time.Second,
	}
	b = wireguard.Config{
		Mark: kernel.Mark{Owner: "wg-" + runID + "-b", ConnID: "conn"}, Host: n.nodeB.NetNS,
		End: kernel.Endpoint{NS: n.wB.NetNS, Name: "icmp-wg"}, PrivateKey: privB, ListenPort: portB,
		Peer: wireguard.Peer{PublicKey: pubA}, MTU: mtu, // learns A's endpoint
	}
	return a, b
}

func newTunnel(t testing.TB, cfg wireguard.Config) *wireguard.Tunnel {
	t.Helper()
	tn, err := wireguard.New(testCtx(t), testLogger(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tn.Close)
	return tn
}

var (
	addrA = netip.MustParseAddr("172.16.7.1")
	addrB = netip.MustParseAddr("172.16.7.0")
)

// configure addresses both interfaces point to point.
func configure(t testing.TB, a, b wireguard.Config) {
	t.Helper()
	cc := &networkservice.ConnectionContext{IpContext: &networkservice.IPContext{
		SrcIpAddrs: []string{addrA.String() + "/32"}, DstIpAddrs: []string{addrB.String() + "/32"},
	}}
	if err := kernel.Configure(testCtx(t), testLogger(t), a.End.NS, a.End.Name, kernel.SideSrc, cc); err != nil {
		t.Fatal(err)
	}
	if err := kernel.Configure(testCtx(t), testLogger(t), b.End.NS, b.End.Name, kernel.SideDst, cc); err != nil {
		t.Fatal(err)
	}
}

// exchange sends a UDP datagram from addrA in a to addrB in b and back.
func exchange(a, b testNS) error {
	var srv, cli *net.UDPConn
	if err := b.Do(func() error {
		var err error
		srv, err = net.ListenUDP("udp", &net.UDPAddr{IP: addrB.AsSlice()})
		return err
	}); err != nil {
		return err
	}
	defer func() { _ = srv.Close() }()
	if err := a.Do(func() error {
		var err error
		cli, err = net.DialUDP("udp", &net.UDPAddr{IP: addrA.AsSlice()}, srv.LocalAddr().(*net.UDPAddr))
		return err
	}); err != nil {
		return err
	}
	defer func() { _ = cli.Close() }()
	msg := make([]byte, 64)
	_, _ = rand.Read(msg)
	buf := make([]byte, 256)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := cli.Write(msg); err != nil {
			return err
		}
		_ = srv.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		n, from, err := srv.ReadFromUDP(buf)
		if err != nil {
			continue // the first packets wait for the handshake
		}
		if !bytes.Equal(buf[:n], msg) {
			return errors.New("datagram changed on the way")
		}
		if _, err := srv.WriteToUDP(buf[:n], from); err != nil {
			return err
		}
		_ = cli.SetReadDeadline(time.Now().Add(2 * time.Second))
		if n, err = cli.Read(buf); err != nil || !bytes.Equal(buf[:n], msg) {
			return fmt.Errorf("no answer: %v", err)
		}
		return nil
	}
	return errors.New("no datagram crossed the tunnel")
}
