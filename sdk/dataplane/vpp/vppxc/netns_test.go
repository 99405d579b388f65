// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package vppxc_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"go.fd.io/govpp/binapi/tapv2"

	"github.com/nsmesh/nsmesh/apis/networkservice/payload"
	"github.com/nsmesh/nsmesh/sdk/dataplane/kernel"
	"github.com/nsmesh/nsmesh/sdk/dataplane/vpp"
	"github.com/nsmesh/nsmesh/sdk/dataplane/vpp/vppxc"
	"github.com/nsmesh/nsmesh/sdk/internal/netnstest"
)

// requireRoot skips unless the test can create namespaces and the TUN/TAP
// devices that stand in for VPP's taps.
func requireRoot(t *testing.T) {
	t.Helper()
	netnstest.RequireRoot(t)
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skip("needs /dev/net/tun to stand in for VPP's taps")
	}
}

// makeHostSide does in the workload's namespace what VPP's tap_create_v3
// does: a TUN or TAP device with the requested name and MTU.
func makeHostSide(req *tapv2.TapCreateV3) error {
	ns, err := kernel.OpenNetNS(req.HostNamespace)
	if err != nil {
		return err
	}
	defer func() { _ = ns.Close() }()
	mode := netlink.TUNTAP_MODE_TAP
	if req.TapFlags&tapv2.TAP_API_FLAG_TUN != 0 {
		mode = netlink.TUNTAP_MODE_TUN
	}
	return ns.Do(func() error {
		attrs := netlink.NewLinkAttrs()
		attrs.Name, attrs.MTU = req.HostIfName, int(req.HostMtuSize)
		return netlink.LinkAdd(&netlink.Tuntap{LinkAttrs: attrs, Mode: mode, Flags: netlink.TUNTAP_DEFAULTS})
	})
}

func removeHostSide(i *fakeIf) {
	ns, err := netns.GetFromPath(i.tap.HostNamespace)
	if err != nil {
		return
	}
	defer func() { _ = ns.Close() }()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return
	}
	defer h.Close()
	if l, err := h.LinkByName(i.tap.HostIfName); err == nil {
		_ = h.LinkDel(l)
	}
}

// TestWorkloadSide runs the real workload-side configuration of
// sdk/dataplane/kernel on taps that the fake VPP makes as VPP would (a
// TUN/TAP device in the namespace named by host_namespace).
func TestWorkloadSide(t *testing.T) {
	requireRoot(t)
	tests := []struct {
		name    string
		payload string
		wantTUN bool
	}{
		{name: "IP", payload: payload.IP, wantTUN: true},
		{name: "ETHERNET", payload: payload.Ethernet},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clientNS, endpointNS := netnstest.New(t, fmt.Sprintf("vc%d", i)), netnstest.New(t, fmt.Sprintf("ve%d", i))
			fake := newFakeVPP(t)
			fake.onTap, fake.onTapDelete = makeHostSide, removeHostSide
			dp := newDataplane(t, fake.Conn(t))
			p := newPair("conn-ns", tt.payload, dualStack(1400), kernelMech(clientNS.Path(), "nsc-ns"), kernelMech(endpointNS.Path(), "nse-ns"))
			ctx := context.Background()
			if err := dp.Program(ctx, p); err != nil {
				t.Fatal(err)
			}
			for _, side := range []struct {
				ns              *netnstest.NS
				name, own, peer string
			}{
				{clientNS, "nsc-ns", "10.0.0.1/32", "10.0.0.2"},
				{endpointNS, "nse-ns", "10.0.0.2/32", "10.0.0.1"},
			} {
				h := netnstest.Handle(t, side.ns.NetNS)
				l, err := h.LinkByName(side.name)
				if err != nil {
					t.Fatalf("%s in %s: %v", side.name, side.ns.Name, err)
				}
				tun, _ := l.(*netlink.Tuntap)
				if tun == nil || (tun.Mode == netlink.TUNTAP_MODE_TUN) != tt.wantTUN {
					t.Errorf("%s is %s, want TUN %v", side.name, l.Type(), tt.wantTUN)
				}
				if l.Attrs().MTU != 1400 || l.Attrs().Flags&net.FlagUp == 0 {
					t.Errorf("%s: MTU %d, up %v; want 1400, up", side.name, l.Attrs().MTU, l.Attrs().Flags&net.FlagUp != 0)
				}
				addrs, err := h.AddrList(l, netlink.FAMILY_V4)
				if err != nil {
					t.Fatal(err)
				}
				if len(addrs) != 1 || addrs[0].IPNet.String() != side.own {
					t.Errorf("%s addresses %v, want %s", side.name, addrs, side.own)
				}
				routes, err := h.RouteGet(net.ParseIP(side.peer))
				if err != nil || len(routes) == 0 || routes[0].LinkIndex != l.Attrs().Index {
					t.Errorf("route to the peer %s: %v, %v; want through %s", side.peer, routes, err, side.name)
				}
			}
			// A refresh changes nothing in the namespaces.
			if err := dp.Program(ctx, p); err != nil {
				t.Fatal(err)
			}
			if err := dp.Unprogram(ctx, p); err != nil {
				t.Fatal(err)
			}
			for _, ns := range []*netnstest.NS{clientNS, endpointNS} {
				links, err := netnstest.Handle(t, ns.NetNS).LinkList()
				if err != nil {
					t.Fatal(err)
				}
				if slices.ContainsFunc(links, func(l netlink.Link) bool { return l.Type() == "tuntap" }) {
					t.Errorf("a tap is left in %s after Unprogram", ns.Name)
				}
			}
		})
	}
}

// TestRealVPP programs a local connection through a running VPP.
func TestRealVPP(t *testing.T) {
	if _, err := exec.LookPath("vpp"); err != nil {
		t.Skip("needs a real VPP: no vpp binary on PATH")
	}
	if _, err := os.Stat(vpp.DefaultSocketPath); err != nil {
		t.Skipf("needs a running VPP: no API socket at %s", vpp.DefaultSocketPath)
	}
	requireRoot(t)
	ctx := context.Background()
	conn, err := vpp.Dial(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = vpp.Close(conn) }()
	clientNS, endpointNS := netnstest.New(t, "vrc"), netnstest.New(t, "vre")
	dp := newDataplane(t, conn, vppxc.WithOwner(fmt.Sprintf("test-%d", os.Getpid())), vppxc.WithAdoptionGrace(0))
	p := newPair("conn-real", payload.IP, dualStack(0), kernelMech(clientNS.Path(), "nsc-real"), kernelMech(endpointNS.Path(), "nse-real"))
	if err := dp.Program(ctx, p); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := dp.Unprogram(ctx, p); err != nil {
			t.Error(err)
		}
	}()
	if _, err := netnstest.Handle(t, clientNS.NetNS).LinkByName("nsc-real"); err != nil {
		t.Errorf("VPP made no tap in the client's namespace: %v", err)
	}
}
