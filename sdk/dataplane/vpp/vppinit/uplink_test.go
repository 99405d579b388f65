// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package vppinit_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/nsmesh/nsmesh/sdk/dataplane/vpp/internal/fakevpp"
	"github.com/nsmesh/nsmesh/sdk/dataplane/vpp/vppinit"
	"github.com/nsmesh/nsmesh/sdk/internal/netnstest"
)

// newNSHandle creates a network namespace (netnstest's, named after tag)
// and returns a netlink handle in it; the namespace, and every link in it,
// goes when the test ends.
func newNSHandle(t *testing.T, tag string) *netlink.Handle {
	t.Helper()
	netnstest.RequireRoot(t)
	return netnstest.Handle(t, netnstest.New(t, tag).NetNS)
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// node builds, in a fresh namespace named after tag, an uplink veth
// "up<pid>" (MTU 9000, 192.0.2.10/24 and 2001:db8::10/64, default routes
// over it, a route via a second gateway, permanent neighbours) and a second
// veth "dm<pid>" holding 10.99.0.1/32 without routes.
func node(t *testing.T, tag string) (*netlink.Handle, string, net.HardwareAddr) {
	h := newNSHandle(t, tag)
	name := fmt.Sprintf("up%d", os.Getpid()%100000)
	mac := net.HardwareAddr{0x02, 0, 0, 0x5e, 0, 0x0a}
	la := netlink.NewLinkAttrs()
	la.Name, la.MTU, la.HardwareAddr = name, 9000, mac
	must(t, "veth", h.LinkAdd(&netlink.Veth{LinkAttrs: la, PeerName: name + "p"}))
	up, err := h.LinkByName(name)
	must(t, "link", err)
	peer, err := h.LinkByName(name + "p")
	must(t, "peer", err)
	must(t, "up", h.LinkSetUp(up))
	must(t, "peer up", h.LinkSetUp(peer))
	for _, a := range []string{"192.0.2.10/24", "2001:db8::10/64"} {
		addr, err := netlink.ParseAddr(a)
		must(t, a, err)
		addr.Flags = 0x80 // IFA_F_NODAD: usable at once
		must(t, a, h.AddrAdd(up, addr))
	}
	dm := netlink.NewLinkAttrs()
	dm.Name = fmt.Sprintf("dm%d", os.Getpid()%100000)
	must(t, "second veth", h.LinkAdd(&netlink.Veth{LinkAttrs: dm, PeerName: dm.Name + "p"}))
	dummy, err := h.LinkByName(dm.Name)
	must(t, "dummy", err)
	must(t, "dummy up", h.LinkSetUp(dummy))
	a, _ := netlink.ParseAddr("10.99.0.1/32")
	must(t, "dummy addr", h.AddrAdd(dummy, a))
	for _, n := range []struct{ ip, mac string }{{"192.0.2.1", "02:00:00:5e:00:01"}, {"2001:db8::1", "02:00:00:5e:00:61"}} {
		m, _ := net.ParseMAC(n.mac)
		must(t, "neigh", h.NeighAdd(&netlink.Neigh{LinkIndex: up.Attrs().Index, State: netlink.NUD_PERMANENT,
			IP: net.ParseIP(n.ip), HardwareAddr: m, Family: familyOf(n.ip)}))
	}
	// An incomplete entry has no MAC to copy.
	must(t, "neigh", h.NeighAdd(&netlink.Neigh{LinkIndex: up.Attrs().Index, State: netlink.NUD_INCOMPLETE,
		IP: net.ParseIP("192.0.2.99"), Family: netlink.FAMILY_V4}))
	_, sub, _ := net.ParseCIDR("198.51.100.0/24")
	for _, r := range []*netlink.Route{
		{LinkIndex: up.Attrs().Index, Gw: net.ParseIP("192.0.2.1")},
		{LinkIndex: up.Attrs().Index, Dst: sub, Gw: net.ParseIP("192.0.2.254")},
		{LinkIndex: up.Attrs().Index, Gw: net.ParseIP("2001:db8::1")},
	} {
		must(t, "route", h.RouteAdd(r))
	}
	return h, name, mac
}

func familyOf(s string) int {
	if net.ParseIP(s).To4() != nil {
		return netlink.FAMILY_V4
	}
	return netlink.FAMILY_V6
}

func TestDiscover(t *testing.T) {
	h, name, mac := node(t, "discover")
	for _, tc := range []struct {
		name       string
		tunnelIP   string
		wantLink   string
		wantAddr   string
		wantMTU    int
		wantNeighs []string
		wantRoutes []string
		wantErr    error
	}{
		{name: "tunnel IP", tunnelIP: "192.0.2.10", wantLink: name, wantAddr: "192.0.2.10/24", wantMTU: 9000,
			wantNeighs: []string{"192.0.2.1 02:00:00:5e:00:01"},
			wantRoutes: []string{"0.0.0.0/0 via 192.0.2.1", "198.51.100.0/24 via 192.0.2.254"}},
		{name: "default route", wantLink: name, wantAddr: "192.0.2.10/24", wantMTU: 9000,
			wantNeighs: []string{"192.0.2.1 02:00:00:5e:00:01"},
			wantRoutes: []string{"0.0.0.0/0 via 192.0.2.1", "198.51.100.0/24 via 192.0.2.254"}},
		{name: "IPv6 tunnel IP", tunnelIP: "2001:db8::10", wantLink: name, wantAddr: "2001:db8::10/64", wantMTU: 9000,
			wantNeighs: []string{"2001:db8::1 02:00:00:5e:00:61"},
			wantRoutes: []string{"::/0 via 2001:db8::1"}},
		{name: "tunnel IP on a link without routes", tunnelIP: "10.99.0.1", wantLink: fmt.Sprintf("dm%d", os.Getpid()%100000),
			wantAddr: "10.99.0.1/32", wantMTU: 1500},
		{name: "tunnel IP nowhere", tunnelIP: "192.0.2.77", wantErr: vppinit.ErrNoUplink},
		{name: "loopback", tunnelIP: "127.0.0.1", wantErr: vppinit.ErrNotEthernet},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "loopback" {
				lo, err := h.LinkByName("lo")
				must(t, "lo", err)
				must(t, "lo up", h.LinkSetUp(lo))
			}
			var tip net.IP
			if tc.tunnelIP != "" {
				tip = net.ParseIP(tc.tunnelIP)
			}
			up, err := vppinit.Discover(h, tip)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("error %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if up.Name != tc.wantLink || up.Addr.String() != tc.wantAddr || up.MTU != tc.wantMTU {
				t.Errorf("uplink %s %s MTU %d, want %s %s MTU %d", up.Name, up.Addr, up.MTU, tc.wantLink, tc.wantAddr, tc.wantMTU)
			}
			if up.Name == name && up.MAC.String() != mac.String() {
				t.Errorf("MAC %s, want %s", up.MAC, mac)
			}
			var neighs, routes []string
			for _, n := range up.Neighbours {
				neighs = append(neighs, n.IP.String()+" "+n.MAC.String())
			}
			for _, r := range up.Routes {
				routes = append(routes, r.Dst.String()+" via "+r.Gw.String())
			}
			if !slices.Equal(neighs, tc.wantNeighs) {
				t.Errorf("neighbours %v, want %v", neighs, tc.wantNeighs)
			}
			if !slices.Equal(routes, tc.wantRoutes) {
				t.Errorf("routes %v, want %v", routes, tc.wantRoutes)
			}
		})
	}
}

func TestDiscoverNoDefaultRoute(t *testing.T) {
	h := newNSHandle(t, "noroute")
	if _, err := vppinit.Discover(h, nil); !errors.Is(err, vppinit.ErrNoUplink) {
		t.Fatalf("error %v, want ErrNoUplink", err)
	}
}

// Discover and Init together: the kernel's uplink becomes VPP's.
func TestDiscoverThenInit(t *testing.T) {
	h, name, mac := node(t, "init")
	up, err := vppinit.Discover(h, nil)
	must(t, "discover", err)
	f := newFakeVPP(t)
	res, err := vppinit.Init(context.Background(), f.Conn(t), up)
	must(t, "init", err)
	if res.MTU != 9000 || res.TunnelIP.String() != "192.0.2.10" {
		t.Errorf("result %+v", res)
	}
	reqs := f.Take()
	if c := fakevpp.Of[*afPacketCreate](reqs); len(c) != 1 || c[0].HostIfName != name || c[0].HwAddr.String() != mac.String() {
		t.Errorf("af_packet_create_v3 %+v, want on %s with MAC %s", c, name, mac)
	}
	if got := len(fakevpp.Of[*routeAddDel](reqs)); got != 2 {
		t.Errorf("%d routes, want 2", got)
	}
}
