// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package kernelxc_test

import (
	"fmt"
	"net/netip"
	"os"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/internal/netnstest"
	"github.com/nsmesh/nsmesh/sdk/networkservice/xconnect"
)

// owner is a forwarder name unique to this run and test.
func owner(t testing.TB, tag string) string { return "xc-" + netnstest.RunID + "-" + tag }

// testNS is a namespace the test created, with lo up.
type testNS = *netnstest.NS

// fdURL opens the namespace file and returns the URL fd passing would hand
// the forwarder: file:///proc/<pid>/fd/<n>. The file is closed at cleanup
// or by calling the returned func.
func fdURL(t testing.TB, n testNS) (string, func()) {
	t.Helper()
	f, err := os.Open(n.Path())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return fmt.Sprintf("file:///proc/%d/fd/%d", os.Getpid(), f.Fd()), func() { _ = f.Close() }
}

// link returns the link called name in ns, failing the test when absent.
func link(t testing.TB, ns testNS, name string) netlink.Link {
	t.Helper()
	l, err := netnstest.Handle(t, ns.NetNS).LinkByName(name)
	if err != nil {
		t.Fatalf("link %s in %s: %v", name, ns.Name, err)
	}
	return l
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
		if err := netnstest.Ping(c.ns.NetNS, c.src, c.dst, 5); err != nil {
			t.Error(err)
		}
	}
}

// tcpEcho sends data from src in client to dst in server over TCP and checks
// that it comes back.
func tcpEcho(t testing.TB, client, server testNS, src, dst netip.Addr, data []byte) {
	t.Helper()
	if err := netnstest.TCPEcho(client.NetNS, src, server.NetNS, dst, data); err != nil {
		t.Fatal(err)
	}
}
