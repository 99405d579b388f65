// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package kernelxc_test

import (
	"net/netip"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/nsmesh/nsmesh/sdk/dataplane/kernel"
	"github.com/nsmesh/nsmesh/sdk/dataplane/kernel/kernelxc"
	"github.com/nsmesh/nsmesh/sdk/internal/netnstest"
	"github.com/nsmesh/nsmesh/sdk/networkservice/xconnect"
)

func newDataplane(t *testing.T, owner string, opts ...kernelxc.Option) *kernelxc.Dataplane {
	t.Helper()
	dp, err := kernelxc.New(owner, append([]kernelxc.Option{kernelxc.WithLogger(netnstest.Logger(t))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dp.Close)
	return dp
}

func TestLocalKernelToKernel(t *testing.T) {
	netnstest.RequireRoot(t)
	ctx := netnstest.Context(t)
	nsc, nse := netnstest.NewUp(t, "lc"), netnstest.NewUp(t, "le")
	dp := newDataplane(t, owner(t, "local"))
	// The client's namespace arrives as fd passing leaves it; the endpoint's
	// as a plain file URL.
	cURL, _ := fdURL(t, nsc)
	p := newPair("conn-local", kernelMech(cURL, "nsm-1"), kernelMech("file://"+nse.Path(), "icmp-srv"), p2pContext(1400), "ETHERNET")

	if err := dp.Program(ctx, p); err != nil {
		t.Fatal(err)
	}
	if got, want := netnstest.Links(t, nsc), []string{"nsm-1 veth"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("client links %v, want %v", got, want)
	}
	if got, want := netnstest.Links(t, nse), []string{"icmp-srv veth"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("endpoint links %v, want %v", got, want)
	}
	a, b := link(t, nsc, "nsm-1"), link(t, nse, "icmp-srv")
	if a.Attrs().MTU != 1400 || b.Attrs().MTU != 1400 {
		t.Errorf("mtu %d/%d, want 1400", a.Attrs().MTU, b.Attrs().MTU)
	}
	if m, _ := kernel.ParseMark(a.Attrs().Alias); m != (kernel.Mark{Owner: dp.Owner(), ConnID: "conn-local"}) {
		t.Errorf("mark %q", a.Attrs().Alias)
	}
	pingBoth(t, nsc, nse)

	// A refresh adopts: same links, nothing recreated.
	if err := dp.Program(ctx, p); err != nil {
		t.Fatal(err)
	}
	if a2 := link(t, nsc, "nsm-1"); a2.Attrs().Index != a.Attrs().Index {
		t.Errorf("refresh recreated the client end (index %d -> %d)", a.Attrs().Index, a2.Attrs().Index)
	}
	if got := dp.Connections(); !reflect.DeepEqual(got, []string{"conn-local"}) {
		t.Errorf("connections %v", got)
	}
	pingBoth(t, nsc, nse)

	if err := dp.Unprogram(ctx, p); err != nil {
		t.Fatal(err)
	}
	if got := append(netnstest.Links(t, nsc), netnstest.Links(t, nse)...); len(got) != 0 {
		t.Fatalf("left after Unprogram: %v", got)
	}
	if err := dp.Unprogram(ctx, p); err != nil {
		t.Fatalf("second Unprogram: %v", err)
	}
}

func TestRemoteVxlan(t *testing.T) {
	netnstest.RequireRoot(t)
	for _, tc := range []struct {
		name     string
		ipA, ipB netip.Prefix
		payload  string
		mtu      int
	}{
		{"ipv4 underlay IP payload", netip.MustParsePrefix("10.210.0.1/24"), netip.MustParsePrefix("10.210.0.2/24"), "IP", 1500 - kernel.VxlanOverheadIPv4},
		{"ipv6 underlay ETHERNET payload", netip.MustParsePrefix("fd00:210::1/64"), netip.MustParsePrefix("fd00:210::2/64"), "ETHERNET", 1500 - kernel.VxlanOverheadIPv6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := netnstest.Context(t)
			n := netnstest.NewTwoNodes(t, "r"+tc.name[:2], tc.ipA, tc.ipB)
			// Node A has the client, node B the endpoint.
			fwdA := newDataplane(t, owner(t, "ra"), kernelxc.WithHostNetNS(n.NodeA.NetNS))
			fwdB := newDataplane(t, owner(t, "rb"), kernelxc.WithHostNetNS(n.NodeB.NetNS))
			tunnel := vxlanMech(n.IPA, n.IPB, 5001)
			cc := p2pContext(0)
			clientSide := newPair("seg-fwd-a", kernelMech("file://"+n.WA.Path(), "nsm-r"), tunnel, cc, tc.payload)
			endpointSide := newPair("seg-fwd-b", tunnel.Clone(), kernelMech("file://"+n.WB.Path(), "icmp-r"), cc, tc.payload)

			// The endpoint-side forwarder programs first, as in a real Request.
			if err := fwdB.Program(ctx, endpointSide); err != nil {
				t.Fatal(err)
			}
			if err := fwdA.Program(ctx, clientSide); err != nil {
				t.Fatal(err)
			}
			va, vb := link(t, n.WA, "nsm-r"), link(t, n.WB, "icmp-r")
			for _, l := range []netlink.Link{va, vb} {
				x, ok := l.(*netlink.Vxlan)
				if !ok || x.VxlanId != 5001 || x.Port != 4789 {
					t.Fatalf("%s is %#v, want vxlan vni 5001 port 4789", l.Attrs().Name, l)
				}
				if l.Attrs().MTU != tc.mtu {
					t.Errorf("%s mtu %d, want %d", l.Attrs().Name, l.Attrs().MTU, tc.mtu)
				}
			}
			if x := va.(*netlink.Vxlan); !x.SrcAddr.Equal(n.IPA.AsSlice()) || !x.Group.Equal(n.IPB.AsSlice()) {
				t.Errorf("client side local %s remote %s", x.SrcAddr, x.Group)
			}
			if x := vb.(*netlink.Vxlan); !x.SrcAddr.Equal(n.IPB.AsSlice()) || !x.Group.Equal(n.IPA.AsSlice()) {
				t.Errorf("endpoint side local %s remote %s", x.SrcAddr, x.Group)
			}
			if got := netnstest.Links(t, n.NodeA); len(got) != 1 {
				t.Errorf("node A got links %v, want only the underlay", got)
			}
			pingBoth(t, n.WA, n.WB)

			if err := fwdA.Program(ctx, clientSide); err != nil {
				t.Fatal(err)
			}
			if err := fwdB.Program(ctx, endpointSide); err != nil {
				t.Fatal(err)
			}
			if l := link(t, n.WA, "nsm-r"); l.Attrs().Index != va.Attrs().Index {
				t.Error("refresh recreated the vxlan device")
			}
			pingBoth(t, n.WA, n.WB)

			if err := fwdA.Unprogram(ctx, clientSide); err != nil {
				t.Fatal(err)
			}
			if err := fwdB.Unprogram(ctx, endpointSide); err != nil {
				t.Fatal(err)
			}
			for _, ns := range []testNS{n.WA, n.WB} {
				if got := netnstest.Links(t, ns); len(got) != 0 {
					t.Errorf("left in %s: %v", ns.Name, got)
				}
			}
		})
	}
}

func TestVxlanMTUFollowsContextAndMechanism(t *testing.T) {
	netnstest.RequireRoot(t)
	ctx := netnstest.Context(t)
	n := netnstest.NewTwoNodes(t, "mtu", netip.MustParsePrefix("10.211.0.1/24"), netip.MustParsePrefix("10.211.0.2/24"))
	dp := newDataplane(t, owner(t, "mtu"), kernelxc.WithHostNetNS(n.NodeA.NetNS))
	for _, tc := range []struct {
		name     string
		ctxMTU   uint32
		mechMTU  string
		underlay int
		wantMTU  int
	}{
		{"underlay", 0, "", 1500, 1450},
		{"context smaller", 1300, "", 1500, 1300},
		{"context larger is capped", 9000, "", 1500, 1450},
		{"mechanism smaller", 0, "1280", 1500, 1280},
		{"jumbo underlay", 0, "", 9000, 8950},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := netnstest.Handle(t, n.NodeA.NetNS)
			if err := h.LinkSetMTU(link(t, n.NodeA, "ul-a"), tc.underlay); err != nil {
				t.Fatal(err)
			}
			m := vxlanMech(n.IPA, n.IPB, 7001)
			if tc.mechMTU != "" {
				m.Parameters["MTU"] = tc.mechMTU
			}
			p := newPair("mtu", kernelMech("file://"+n.WA.Path(), "nsm-m"), m, p2pContext(tc.ctxMTU), "IP")
			if err := dp.Program(ctx, p); err != nil {
				t.Fatal(err)
			}
			if got := link(t, n.WA, "nsm-m").Attrs().MTU; got != tc.wantMTU {
				t.Errorf("mtu %d, want %d", got, tc.wantMTU)
			}
		})
	}
}

func TestFailedProgramRemovesWhatItCreated(t *testing.T) {
	netnstest.RequireRoot(t)
	ctx := netnstest.Context(t)
	nsc, nse := netnstest.NewUp(t, "fc"), netnstest.NewUp(t, "fe")
	n := netnstest.NewTwoNodes(t, "fv", netip.MustParsePrefix("10.212.0.1/24"), netip.MustParsePrefix("10.212.0.2/24"))
	dp := newDataplane(t, owner(t, "fail"), kernelxc.WithHostNetNS(n.NodeA.NetNS))
	bad := p2pContext(0)
	bad.IpContext.SrcIpAddrs = []string{"not-an-address"}

	// The links are created, then configuring them fails.
	local := newPair("bad-local", kernelMech("file://"+nsc.Path(), "nsm-b"), kernelMech("file://"+nse.Path(), "srv-b"), bad, "IP")
	remote := newPair("bad-remote", kernelMech("file://"+n.WA.Path(), "nsm-b"), vxlanMech(n.IPA, n.IPB, 9), bad, "IP")
	if err := dp.Program(ctx, local); err == nil || !strings.Contains(err.Error(), "not-an-address") {
		t.Fatalf("local: error %v", err)
	}
	if err := dp.Program(ctx, remote); err == nil || !strings.Contains(err.Error(), "not-an-address") {
		t.Fatalf("remote: error %v", err)
	}
	for _, ns := range []testNS{nsc, nse, n.WA} {
		if got := netnstest.Links(t, ns); len(got) != 0 {
			t.Errorf("left in %s after failed Program: %v", ns.Name, got)
		}
	}
	if got := dp.Connections(); len(got) != 0 {
		t.Errorf("failed connections are claimed: %v", got)
	}

	// A failing refresh leaves the working interface alone.
	good := newPair("refresh", kernelMech("file://"+nsc.Path(), "nsm-g"), kernelMech("file://"+nse.Path(), "srv-g"), p2pContext(0), "IP")
	if err := dp.Program(ctx, good); err != nil {
		t.Fatal(err)
	}
	before := link(t, nsc, "nsm-g").Attrs().Index
	broken := newPair("refresh", kernelMech("file://"+nsc.Path(), "nsm-g"), kernelMech("file://"+nse.Path(), "srv-g"), bad, "IP")
	if err := dp.Program(ctx, broken); err == nil {
		t.Fatal("refresh with a bad context succeeded")
	}
	if after := link(t, nsc, "nsm-g").Attrs().Index; after != before {
		t.Errorf("failed refresh replaced the interface")
	}
	pingBoth(t, nsc, nse)
	if err := dp.Unprogram(ctx, good); err != nil {
		t.Fatal(err)
	}
}

func TestRefreshWithNewNameReplacesLinks(t *testing.T) {
	netnstest.RequireRoot(t)
	ctx := netnstest.Context(t)
	nsc, nse := netnstest.NewUp(t, "nc"), netnstest.NewUp(t, "ne")
	dp := newDataplane(t, owner(t, "rename"))
	p := newPair("rename", kernelMech("file://"+nsc.Path(), "old-c"), kernelMech("file://"+nse.Path(), "old-e"), p2pContext(0), "IP")
	if err := dp.Program(ctx, p); err != nil {
		t.Fatal(err)
	}
	p.Upstream.Mechanism.Parameters["name"] = "new-c"
	if err := dp.Program(ctx, p); err != nil {
		t.Fatal(err)
	}
	if got, want := netnstest.Links(t, nsc), []string{"new-c veth"}; !reflect.DeepEqual(got, want) {
		t.Errorf("client links %v, want %v", got, want)
	}
	if got, want := netnstest.Links(t, nse), []string{"old-e veth"}; !reflect.DeepEqual(got, want) {
		t.Errorf("endpoint links %v, want %v", got, want)
	}
	pingBoth(t, nsc, nse)
	if err := dp.Unprogram(ctx, p); err != nil {
		t.Fatal(err)
	}
}

// TestUnprogramFindsNamespaceByScanning: fd passing may already have closed
// the descriptor the URL names; the namespace still exists and its links
// must go.
func TestUnprogramFindsNamespaceByScanning(t *testing.T) {
	netnstest.RequireRoot(t)
	ctx := netnstest.Context(t)
	n := netnstest.NewTwoNodes(t, "sc", netip.MustParsePrefix("10.213.0.1/24"), netip.MustParsePrefix("10.213.0.2/24"))
	dp := newDataplane(t, owner(t, "scan"), kernelxc.WithHostNetNS(n.NodeA.NetNS))
	url, closeFD := fdURL(t, n.WA)
	p := newPair("scan", kernelMech(url, "nsm-s"), vxlanMech(n.IPA, n.IPB, 11), p2pContext(0), "IP")
	if err := dp.Program(ctx, p); err != nil {
		t.Fatal(err)
	}
	closeFD()
	if err := dp.Unprogram(ctx, p); err != nil {
		t.Fatal(err)
	}
	if got := netnstest.Links(t, n.WA); len(got) != 0 {
		t.Fatalf("left: %v", got)
	}
}

func TestUnprogramWithoutProgramDeletesByMark(t *testing.T) {
	netnstest.RequireRoot(t)
	ctx := netnstest.Context(t)
	nsc, nse := netnstest.NewUp(t, "uc"), netnstest.NewUp(t, "ue")
	o := owner(t, "nostate")
	p := newPair("orphan", kernelMech("file://"+nsc.Path(), "nsm-o"), kernelMech("file://"+nse.Path(), "srv-o"), p2pContext(0), "IP")
	if err := newDataplane(t, o).Program(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := newDataplane(t, o).Unprogram(ctx, p); err != nil {
		t.Fatal(err)
	}
	if got := append(netnstest.Links(t, nsc), netnstest.Links(t, nse)...); len(got) != 0 {
		t.Fatalf("left: %v", got)
	}
}

func TestVNIClashIsAnErrorAndLeavesNothing(t *testing.T) {
	netnstest.RequireRoot(t)
	ctx := netnstest.Context(t)
	n := netnstest.NewTwoNodes(t, "vn", netip.MustParsePrefix("10.214.0.1/24"), netip.MustParsePrefix("10.214.0.2/24"))
	w2 := netnstest.NewUp(t, "vn-w2")
	dp := newDataplane(t, owner(t, "vni"), kernelxc.WithHostNetNS(n.NodeA.NetNS))
	first := newPair("vni-1", kernelMech("file://"+n.WA.Path(), "nsm-1"), vxlanMech(n.IPA, n.IPB, 21), p2pContext(0), "IP")
	if err := dp.Program(ctx, first); err != nil {
		t.Fatal(err)
	}
	other := netip.MustParseAddr("10.214.0.3")
	second := newPair("vni-2", kernelMech("file://"+w2.Path(), "nsm-2"), vxlanMech(n.IPA, other, 21), p2pContext(0), "IP")
	err := dp.Program(ctx, second)
	if err == nil || !strings.Contains(err.Error(), "VNI") {
		t.Fatalf("error %v, want a VNI clash", err)
	}
	if got := netnstest.Links(t, w2); len(got) != 0 {
		t.Errorf("left: %v", got)
	}
	_ = dp.Unprogram(ctx, first)
}

// TestNoNamespaceKeptOpen: the data plane holds no descriptor (namespace or
// netlink socket) between calls, so it never keeps a workload namespace
// alive.
func TestNoNamespaceKeptOpen(t *testing.T) {
	netnstest.RequireRoot(t)
	ctx := netnstest.Context(t)
	n := netnstest.NewTwoNodes(t, "fd", netip.MustParsePrefix("10.217.0.1/24"), netip.MustParsePrefix("10.217.0.2/24"))
	dp := newDataplane(t, owner(t, "fds"), kernelxc.WithHostNetNS(n.NodeA.NetNS))
	local := newPair("fd-local", kernelMech("file://"+n.WA.Path(), "nsm-l"), kernelMech("file://"+n.WB.Path(), "srv-l"), p2pContext(0), "IP")
	remote := newPair("fd-remote", kernelMech("file://"+n.WA.Path(), "nsm-r"), vxlanMech(n.IPA, n.IPB, 41), p2pContext(0), "IP")
	cycle := func() {
		for _, p := range []*xconnect.Pair{local, remote} {
			for range 2 { // create, refresh
				if err := dp.Program(ctx, p); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	cycle() // warm up whatever the runtime opens once
	before := openFDs(t)
	cycle()
	if after := openFDs(t); after != before {
		t.Errorf("open descriptors %d after programming, %d before", after, before)
	}
	for _, p := range []*xconnect.Pair{local, remote} {
		if err := dp.Unprogram(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	if after := openFDs(t); after != before {
		t.Errorf("open descriptors %d after unprogramming, %d before", after, before)
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}
