// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package kernel_test

import (
	"net"
	"net/netip"
	"reflect"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/dataplane/kernel"
	"github.com/nsmesh/nsmesh/sdk/internal/netnstest"
)

func dualStackContext() *networkservice.ConnectionContext {
	return &networkservice.ConnectionContext{IpContext: &networkservice.IPContext{
		SrcIpAddrs: []string{"172.16.2.1/32", "fd00:2::1/128"},
		DstIpAddrs: []string{"172.16.2.0/32", "fd00:2::/128"},
		SrcRoutes:  []*networkservice.Route{{Prefix: "172.16.2.0/32"}, {Prefix: "fd00:2::/128"}},
		DstRoutes:  []*networkservice.Route{{Prefix: "172.16.2.1/32"}, {Prefix: "fd00:2::1/128"}},
	}}
}

func TestRemoteVxlan(t *testing.T) {
	netnstest.RequireRoot(t)
	for _, tc := range []struct {
		name     string
		ipA, ipB netip.Prefix
		mtu      int
	}{
		{"ipv4 underlay", netip.MustParsePrefix("10.200.0.1/24"), netip.MustParsePrefix("10.200.0.2/24"), 1500 - kernel.VxlanOverheadIPv4},
		{"ipv6 underlay", netip.MustParsePrefix("fd00:200::1/64"), netip.MustParsePrefix("fd00:200::2/64"), 1500 - kernel.VxlanOverheadIPv6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, log := netnstest.Context(t), netnstest.Logger(t)
			n := netnstest.NewTwoNodes(t, tc.name[:4], tc.ipA, tc.ipB)
			ends := []kernel.Vxlan{
				{
					Mark: kernel.Mark{Owner: "fwd-a", ConnID: "conn-remote-a"},
					Host: n.NodeA.NetNS, End: kernel.Endpoint{NS: n.WA.NetNS, Name: "nsm-vx"},
					VNI: 4242, Local: n.IPA.AsSlice(), Remote: n.IPB.AsSlice(),
				},
				{
					Mark: kernel.Mark{Owner: "fwd-b", ConnID: "conn-remote-b"},
					Host: n.NodeB.NetNS, End: kernel.Endpoint{NS: n.WB.NetNS, Name: "nsm-vx"},
					VNI: 4242, Local: n.IPB.AsSlice(), Remote: n.IPA.AsSlice(),
				},
			}
			for i, v := range ends {
				res, err := v.Ensure(ctx, log)
				if err != nil {
					t.Fatalf("Ensure end %d: %v", i, err)
				}
				if !res.Created || res.Link.MTU != tc.mtu {
					t.Errorf("Ensure end %d = %+v, want created with mtu %d", i, res, tc.mtu)
				}
			}
			// The device lives in the workload namespace; nothing is left
			// in the node namespace but the underlay.
			if got := linkNames(t, n.NodeA.NetNS); !reflect.DeepEqual(got, []string{"ul-a"}) {
				t.Errorf("links in node A = %v", got)
			}
			l, err := netnstest.Handle(t, n.WA.NetNS).LinkByName("nsm-vx")
			if err != nil {
				t.Fatal(err)
			}
			vx, ok := l.(*netlink.Vxlan)
			if !ok || vx.VxlanId != 4242 || vx.Port != kernel.DefaultVxlanPort || vx.Learning || !vx.Group.Equal(n.IPB.AsSlice()) {
				t.Errorf("device in workload A = %#v", l)
			}

			cc := dualStackContext()
			configureBoth(t, n.WA.NetNS, "nsm-vx", n.WB.NetNS, "nsm-vx", cc)
			checkTraffic := func(stage string) {
				t.Helper()
				if err := netnstest.Ping(n.WA.NetNS, mustAddr("172.16.2.1/32"), mustAddr("172.16.2.0/32"), 3); err != nil {
					t.Errorf("%s: A -> B: %v", stage, err)
				}
				if err := netnstest.Ping(n.WB.NetNS, mustAddr("fd00:2::/128"), mustAddr("fd00:2::1/128"), 3); err != nil {
					t.Errorf("%s: B -> A over IPv6: %v", stage, err)
				}
				if err := netnstest.TCPEcho(n.WA.NetNS, mustAddr("172.16.2.1/32"), n.WB.NetNS, mustAddr("172.16.2.0/32"), randomData(2<<20)); err != nil {
					t.Errorf("%s: tcp A -> B: %v", stage, err)
				}
				if err := netnstest.TCPEcho(n.WB.NetNS, mustAddr("fd00:2::/128"), n.WA.NetNS, mustAddr("fd00:2::1/128"), randomData(1<<20)); err != nil {
					t.Errorf("%s: tcp B -> A over IPv6: %v", stage, err)
				}
			}
			checkTraffic("created")

			// Refresh adopts.
			for i, v := range ends {
				res, err := v.Ensure(ctx, log)
				if err != nil || res.Created {
					t.Errorf("refresh end %d = %+v, %v; want adopted", i, res, err)
				}
			}
			configureBoth(t, n.WA.NetNS, "nsm-vx", n.WB.NetNS, "nsm-vx", cc)
			checkTraffic("refreshed")

			// A new VNI replaces the device; the context is applied again
			// as a forwarder does after re-creating an interface.
			for i := range ends {
				ends[i].VNI = 4243
				res, err := ends[i].Ensure(ctx, log)
				if err != nil || !res.Created {
					t.Errorf("new vni end %d = %+v, %v; want re-created", i, res, err)
				}
			}
			configureBoth(t, n.WA.NetNS, "nsm-vx", n.WB.NetNS, "nsm-vx", cc)
			checkTraffic("new vni")

			for _, v := range ends {
				if err := v.Delete(ctx, log); err != nil {
					t.Fatalf("Delete: %v", err)
				}
				if err := v.Delete(ctx, log); err != nil {
					t.Errorf("second Delete: %v", err)
				}
			}
			for _, ns := range []*kernel.NetNS{n.WA.NetNS, n.WB.NetNS} {
				if got := linkNames(t, ns); len(got) != 0 {
					t.Errorf("links left in %s: %v", ns, got)
				}
			}
			if got := linkNames(t, n.NodeB.NetNS); !reflect.DeepEqual(got, []string{"ul-b"}) {
				t.Errorf("links in node B = %v", got)
			}
		})
	}
}

func TestVxlanVNIConflict(t *testing.T) {
	netnstest.RequireRoot(t)
	ctx, log := netnstest.Context(t), netnstest.Logger(t)
	n := netnstest.NewTwoNodes(t, "vc", netip.MustParsePrefix("10.201.0.1/24"), netip.MustParsePrefix("10.201.0.2/24"))
	w2 := netnstest.New(t, "vc-w2").NetNS
	a := kernel.Vxlan{Mark: kernel.Mark{Owner: "fwd-a", ConnID: "c1"}, Host: n.NodeA.NetNS,
		End: kernel.Endpoint{NS: n.WA.NetNS, Name: "nsm-1"}, VNI: 77, Local: n.IPA.AsSlice(), Remote: n.IPB.AsSlice(), MTU: 1400}
	if _, err := a.Ensure(ctx, log); err != nil {
		t.Fatal(err)
	}
	b := a
	b.Mark.ConnID = "c2"
	b.End = kernel.Endpoint{NS: w2, Name: "nsm-2"}
	if _, err := b.Ensure(ctx, log); err == nil {
		t.Errorf("a second device with the same VNI, addresses and port on one host was created")
	} else {
		t.Logf("conflict reported as: %v", err)
	}
	if got := linkNames(t, w2); len(got) != 0 {
		t.Errorf("links left after a failed Ensure: %v", got)
	}
	// The kernel demultiplexes received packets by VNI and port only, so a
	// different remote does not make the VNI reusable.
	b.Remote = netip.MustParseAddr("10.201.0.3").AsSlice()
	if _, err := b.Ensure(ctx, log); err == nil {
		t.Errorf("the same VNI towards another remote was accepted")
	}
	b.VNI = 78
	if _, err := b.Ensure(ctx, log); err != nil {
		t.Errorf("a distinct VNI: %v", err)
	}
}

func TestVxlanValidation(t *testing.T) {
	netnstest.RequireRoot(t)
	ctx := netnstest.Context(t)
	ns := netnstest.New(t, "vval").NetNS
	ok := kernel.Vxlan{Mark: kernel.Mark{Owner: "o", ConnID: "c"}, End: kernel.Endpoint{NS: ns, Name: "vx"},
		VNI: 1, Local: net.ParseIP("10.0.0.1"), Remote: net.ParseIP("10.0.0.2"), MTU: 1400}
	for name, mutate := range map[string]func(*kernel.Vxlan){
		"vni 0":         func(v *kernel.Vxlan) { v.VNI = 0 },
		"vni too big":   func(v *kernel.Vxlan) { v.VNI = 1 << 24 },
		"no remote":     func(v *kernel.Vxlan) { v.Remote = nil },
		"mixed family":  func(v *kernel.Vxlan) { v.Remote = net.ParseIP("fd00::2") },
		"bad port":      func(v *kernel.Vxlan) { v.Port = 70000 },
		"no namespace":  func(v *kernel.Vxlan) { v.End.NS = nil },
		"bad name":      func(v *kernel.Vxlan) { v.End.Name = "a/b" },
		"no mark owner": func(v *kernel.Vxlan) { v.Mark.Owner = "" },
	} {
		v := ok
		mutate(&v)
		if _, err := v.Ensure(ctx, nil); err == nil {
			t.Errorf("%s: Ensure succeeded", name)
		}
	}
	if got := linkNames(t, ns); len(got) != 0 {
		t.Errorf("links created by invalid requests: %v", got)
	}
	if got := kernel.VxlanMTU(9000, net.ParseIP("fd00::1")); got != 8930 {
		t.Errorf("VxlanMTU(9000, v6) = %d", got)
	}
}
