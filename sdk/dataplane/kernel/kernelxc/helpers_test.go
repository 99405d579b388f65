// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package kernelxc_test

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
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/dataplane/kernel"
	"github.com/nsmesh/nsmesh/sdk/networkservice/xconnect"
)

// runID keeps this test binary's namespace and owner names apart from any
// other run on the machine.
var runID = func() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%d%s", os.Getpid()%10000, hex.EncodeToString(b))
}()

// owner is a forwarder name unique to this run and test.
func owner(t testing.TB, tag string) string { return "xc-" + runID + "-" + tag }

func isRoot() bool { return os.Geteuid() == 0 }

func requireRoot(t testing.TB) {
	t.Helper()
	if !isRoot() {
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

// testNS is a named namespace the test created.
type testNS struct {
	*kernel.NetNS
	name string
}

// path is the namespace file, as /run/netns/<name>.
func (n testNS) path() string { return "/run/netns/" + n.name }

// newNS creates the namespace nsxc-<run>-<tag> and deletes it when the test
// ends, whatever the outcome.
func newNS(t testing.TB, tag string) testNS {
	t.Helper()
	name := fmt.Sprintf("nsxc-%s-%s", runID, tag)
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
			errc <- errors.Join(err, serr) // the locked thread dies with the goroutine
			return
		}
		runtime.UnlockOSThread()
		errc <- err
	}()
	if err := <-errc; err != nil {
		_ = netns.DeleteNamed(name)
		t.Fatalf("create netns %s: %v", name, err)
	}
	ns, err := kernel.OpenNetNS(name)
	if err != nil {
		_ = netns.DeleteNamed(name)
		t.Fatalf("open netns %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = ns.Close()
		if err := netns.DeleteNamed(name); err != nil {
			t.Errorf("delete netns %s: %v", name, err)
		}
	})
	n := testNS{NetNS: ns, name: name}
	setLoUp(t, n)
	return n
}

// fdURL opens the namespace file and returns the URL fd passing would hand
// the forwarder: file:///proc/<pid>/fd/<n>. The file is closed at cleanup
// or by calling the returned func.
func fdURL(t testing.TB, n testNS) (string, func()) {
	t.Helper()
	f, err := os.Open(n.path())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return fmt.Sprintf("file:///proc/%d/fd/%d", os.Getpid(), f.Fd()), func() { _ = f.Close() }
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

func setLoUp(t testing.TB, ns testNS) {
	t.Helper()
	h := handle(t, ns.NetNS)
	lo, err := h.LinkByName("lo")
	if err == nil {
		err = h.LinkSetUp(lo)
	}
	if err != nil {
		t.Fatalf("lo up in %s: %v", ns.name, err)
	}
}

// links lists "name kind" of the links in ns other than lo, sorted.
func links(t testing.TB, ns testNS) []string {
	t.Helper()
	list, err := handle(t, ns.NetNS).LinkList()
	if err != nil {
		t.Fatalf("list links in %s: %v", ns.name, err)
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

// link returns the link called name in ns, failing the test when absent.
func link(t testing.TB, ns testNS, name string) netlink.Link {
	t.Helper()
	l, err := handle(t, ns.NetNS).LinkByName(name)
	if err != nil {
		t.Fatalf("link %s in %s: %v", name, ns.name, err)
	}
	return l
}

// ping sends ICMP echo requests from src (inside ns) to dst and waits for a
// matching reply; no ping binary is assumed.
func ping(ns testNS, src, dst netip.Addr) error {
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
		return fmt.Errorf("listen icmp in %s: %w", ns.name, err)
	}
	defer func() { _ = conn.Close() }()
	payload := make([]byte, 32)
	_, _ = rand.Read(payload)
	buf := make([]byte, 1500)
	for seq := 1; seq <= 5; seq++ {
		msg := icmp.Message{Type: reqType, Body: &icmp.Echo{ID: os.Getpid() & 0xffff, Seq: seq, Data: payload}}
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
	return fmt.Errorf("no echo reply from %s to %s in %s", dst, src, ns.name)
}

func kernelMech(url, name string) *networkservice.Mechanism {
	return &networkservice.Mechanism{Cls: "LOCAL", Type: "KERNEL", Parameters: map[string]string{"inodeURL": url, "name": name}}
}

func vxlanMech(src, dst netip.Addr, vni uint32) *networkservice.Mechanism {
	return &networkservice.Mechanism{Cls: "REMOTE", Type: "VXLAN", Parameters: map[string]string{
		"src_ip": src.String(), "dst_ip": dst.String(), "src_port": "4789", "dst_port": "4789",
		"vni": fmt.Sprint(vni),
	}}
}

// newPair builds what xconnect hands the data plane.
func newPair(id string, up, down *networkservice.Mechanism, cc *networkservice.ConnectionContext, payload string) *xconnect.Pair {
	conn := &networkservice.Connection{Id: id, Context: cc, Payload: payload, NetworkService: "svc"}
	u, d := conn.Clone(), conn.Clone()
	u.Mechanism, d.Mechanism = up, down
	return &xconnect.Pair{ID: id, Upstream: u, Downstream: d}
}

func p2pContext(mtu uint32) *networkservice.ConnectionContext {
	return &networkservice.ConnectionContext{
		MTU: mtu,
		IpContext: &networkservice.IPContext{
			SrcIpAddrs: []string{"172.16.9.1/32", "fd00:9::1/128"},
			DstIpAddrs: []string{"172.16.9.0/32", "fd00:9::/128"},
		},
	}
}

var (
	srcV4, dstV4 = netip.MustParseAddr("172.16.9.1"), netip.MustParseAddr("172.16.9.0")
	srcV6, dstV6 = netip.MustParseAddr("fd00:9::1"), netip.MustParseAddr("fd00:9::")
)

// pingBoth pings client→endpoint and back, over IPv4 and IPv6.
func pingBoth(t testing.TB, client, endpoint testNS) {
	t.Helper()
	for _, c := range []struct {
		ns       testNS
		src, dst netip.Addr
	}{{client, srcV4, dstV4}, {endpoint, dstV4, srcV4}, {client, srcV6, dstV6}, {endpoint, dstV6, srcV6}} {
		if err := ping(c.ns, c.src, c.dst); err != nil {
			t.Error(err)
		}
	}
}

// twoNodes is the remote topology: two node namespaces joined by a veth
// underlay, each with a workload namespace.
type twoNodes struct {
	nodeA, nodeB testNS
	wA, wB       testNS
	ipA, ipB     netip.Addr
}

func newTwoNodes(t testing.TB, tag string, ipA, ipB netip.Prefix) twoNodes {
	t.Helper()
	n := twoNodes{
		nodeA: newNS(t, tag+"-na"), nodeB: newNS(t, tag+"-nb"),
		wA: newNS(t, tag+"-wa"), wB: newNS(t, tag+"-wb"),
		ipA: ipA.Addr(), ipB: ipB.Addr(),
	}
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
