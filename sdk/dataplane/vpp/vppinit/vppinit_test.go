// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package vppinit_test

import (
	"context"
	"errors"
	"flag"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.fd.io/govpp/api"
	"go.fd.io/govpp/binapi/acl"
	"go.fd.io/govpp/binapi/acl_types"
	"go.fd.io/govpp/binapi/af_packet"
	interfaces "go.fd.io/govpp/binapi/interface"
	"go.fd.io/govpp/binapi/ip"
	"go.fd.io/govpp/binapi/ip_neighbor"
	"go.fd.io/govpp/binapi/ip_types"

	"github.com/nsmesh/nsmesh/sdk/dataplane/vpp/internal/fakevpp"
	"github.com/nsmesh/nsmesh/sdk/dataplane/vpp/vppinit"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("messages differ from %s (run with -update after checking):\n--- got\n%s--- want\n%s", path, got, want)
	}
}

func mustCIDR(t *testing.T, s string) *net.IPNet {
	t.Helper()
	ipa, n, err := net.ParseCIDR(s)
	if err != nil {
		t.Fatal(err)
	}
	n.IP = ipa
	return n
}

func mustMAC(t *testing.T, s string) net.HardwareAddr {
	t.Helper()
	m, err := net.ParseMAC(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func uplink4(t *testing.T) *vppinit.Uplink {
	return &vppinit.Uplink{
		Name: "eth0", MAC: mustMAC(t, "02:00:00:00:00:0a"), MTU: 9000, Addr: mustCIDR(t, "192.0.2.10/24"),
		Neighbours: []vppinit.Neighbour{{IP: net.ParseIP("192.0.2.1"), MAC: mustMAC(t, "02:00:00:00:00:01")}},
		Routes: []vppinit.Route{
			{Dst: mustCIDR(t, "0.0.0.0/0"), Gw: net.ParseIP("192.0.2.1")},
			{Dst: mustCIDR(t, "198.51.100.0/24"), Gw: net.ParseIP("192.0.2.254")},
			{Dst: mustCIDR(t, "203.0.113.0/28")},
		},
	}
}

func uplink6(t *testing.T) *vppinit.Uplink {
	return &vppinit.Uplink{
		Name: "ens3", MAC: mustMAC(t, "02:00:00:00:00:6a"), MTU: 1500, Addr: mustCIDR(t, "2001:db8::10/64"),
		Neighbours: []vppinit.Neighbour{{IP: net.ParseIP("fe80::1"), MAC: mustMAC(t, "02:00:00:00:00:61")}},
		Routes:     []vppinit.Route{{Dst: mustCIDR(t, "::/0"), Gw: net.ParseIP("fe80::1")}},
	}
}

func TestInitMessages(t *testing.T) {
	for _, tc := range []struct {
		name string
		up   func(*testing.T) *vppinit.Uplink
		opts []vppinit.Option
		want []string
	}{
		{name: "ipv4", up: uplink4, opts: []vppinit.Option{vppinit.WithWireGuardPorts(51820, 52819)}, want: []string{
			"af_packet_dump", "af_packet_create_v3", "sw_interface_set_mtu",
			"acl_dump", "acl_add_replace", "acl_add_replace", "acl_add_replace", "acl_add_replace", "acl_interface_set_acl_list",
			"sw_interface_set_flags", "ip_neighbor_add_del",
			"ip_address_dump", "sw_interface_add_del_address",
			"ip_route_add_del", "ip_route_add_del", "ip_route_add_del",
		}},
		{name: "ipv6", up: uplink6, opts: []vppinit.Option{vppinit.WithVxlanPort(8472)}, want: []string{
			"af_packet_dump", "af_packet_create_v3", "sw_interface_set_mtu",
			"acl_dump", "acl_add_replace", "acl_add_replace", "acl_add_replace", "acl_add_replace", "acl_interface_set_acl_list",
			"sw_interface_ip6_enable_disable", "sw_interface_ip6nd_ra_config",
			"sw_interface_set_flags", "ip_neighbor_add_del",
			"ip_address_dump", "sw_interface_add_del_address",
			"ip_route_add_del",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeVPP(t)
			up := tc.up(t)
			res, err := vppinit.Init(context.Background(), f.Conn(t), up, tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			if !res.Created || res.MTU != up.MTU || !res.TunnelIP.Equal(up.Addr.IP) || res.SwIfIndex != 1 {
				t.Errorf("result %+v, want created index 1, MTU %d, tunnel IP %s", res, up.MTU, up.Addr.IP)
			}
			reqs := f.Take()
			if got := names(reqs); !slices.Equal(got, tc.want) {
				t.Errorf("messages\n got %v\nwant %v", got, tc.want)
			}
			golden(t, tc.name, render(reqs))
		})
	}
}

func TestInitFields(t *testing.T) {
	f := newFakeVPP(t)
	up := uplink4(t)
	if _, err := vppinit.Init(context.Background(), f.Conn(t), up, vppinit.WithWireGuardPorts(51820, 52819)); err != nil {
		t.Fatal(err)
	}
	reqs := f.Take()

	c := fakevpp.Of[*af_packet.AfPacketCreateV3](reqs)[0]
	if c.HostIfName != "eth0" || c.HwAddr.String() != "02:00:00:00:00:0a" || c.UseRandomHwAddr ||
		c.Mode != af_packet.AF_PACKET_API_MODE_ETHERNET || c.Flags != af_packet.AF_PACKET_API_FLAG_VERSION_2 ||
		c.RxFrameSize != 10240 || c.TxFrameSize != 10240 || c.RxFramesPerBlock != 1024 || c.TxFramesPerBlock != 1024 {
		t.Errorf("af_packet_create_v3 %+v", c)
	}
	if m := fakevpp.Of[*interfaces.SwInterfaceSetMtu](reqs)[0]; !slices.Equal(m.Mtu, []uint32{9000, 9000, 9000, 9000}) || m.SwIfIndex != 1 {
		t.Errorf("sw_interface_set_mtu %+v", m)
	}

	byTag := make(map[string]*acl.ACLAddReplace)
	for _, a := range fakevpp.Of[*acl.ACLAddReplace](reqs) {
		byTag[a.Tag] = a
	}
	deny := func(a *acl.ACLAddReplace, types ...uint16) {
		t.Helper()
		if a == nil || len(a.R) != len(types)+2 {
			t.Fatalf("deny ACL %+v", a)
		}
		for i, ty := range types {
			r := a.R[i]
			if r.IsPermit != acl_types.ACL_ACTION_API_PERMIT || r.Proto != ip_types.IP_API_PROTO_ICMP6 ||
				r.SrcportOrIcmptypeFirst != ty || r.SrcportOrIcmptypeLast != ty {
				t.Errorf("%s rule %d: %+v, want permit ICMPv6 type %d", a.Tag, i, r, ty)
			}
		}
		for _, r := range a.R[len(types):] {
			if r.IsPermit != acl_types.ACL_ACTION_API_DENY || r.SrcPrefix.Len != 0 || r.DstPrefix.Len != 0 || r.Proto != 0 {
				t.Errorf("%s: %+v, want deny all", a.Tag, r)
			}
		}
	}
	deny(byTag[vppinit.TagDenyIngress], 134, 136)
	deny(byTag[vppinit.TagDenyEgress], 133, 135)
	type rule struct {
		src, dst       string
		sf, sl, df, dl uint16
	}
	pin := func(a *acl.ACLAddReplace, want []rule) {
		t.Helper()
		var got []rule
		for _, r := range a.R {
			if r.IsPermit != acl_types.ACL_ACTION_API_PERMIT || r.Proto != ip_types.IP_API_PROTO_UDP {
				t.Errorf("%s: %+v, want permit UDP", a.Tag, r)
			}
			got = append(got, rule{r.SrcPrefix.String(), r.DstPrefix.String(), r.SrcportOrIcmptypeFirst, r.SrcportOrIcmptypeLast,
				r.DstportOrIcmpcodeFirst, r.DstportOrIcmpcodeLast})
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s rules\n got %v\nwant %v", a.Tag, got, want)
		}
	}
	pin(byTag[vppinit.TagPinholeIngress], []rule{
		{"0.0.0.0/0", "192.0.2.10/32", 0, 65535, 4789, 4789},
		{"0.0.0.0/0", "192.0.2.10/32", 0, 65535, 51820, 52819},
	})
	pin(byTag[vppinit.TagPinholeEgress], []rule{
		{"192.0.2.10/32", "0.0.0.0/0", 0, 65535, 4789, 4789},
		{"192.0.2.10/32", "0.0.0.0/0", 51820, 52819, 0, 65535},
		{"192.0.2.10/32", "0.0.0.0/0", 0, 65535, 51820, 52819},
	})
	// Input: pinhole then deny-all; output likewise.
	l := fakevpp.Of[*acl.ACLInterfaceSetACLList](reqs)[0]
	want := []uint32{byTag[vppinit.TagPinholeIngress].ACLIndex, byTag[vppinit.TagDenyIngress].ACLIndex,
		byTag[vppinit.TagPinholeEgress].ACLIndex, byTag[vppinit.TagDenyEgress].ACLIndex}
	f.Lock()
	for i, tag := range []string{vppinit.TagPinholeIngress, vppinit.TagDenyIngress, vppinit.TagPinholeEgress, vppinit.TagDenyEgress} {
		want[i] = ^uint32(0)
		for idx, a := range f.acls {
			if a.Tag == tag {
				want[i] = idx
			}
		}
	}
	f.Unlock()
	if l.SwIfIndex != 1 || l.NInput != 2 || !slices.Equal(l.Acls, want) {
		t.Errorf("acl_interface_set_acl_list %+v, want input 2 of %v", l, want)
	}

	n := fakevpp.Of[*ip_neighbor.IPNeighborAddDel](reqs)[0]
	if !n.IsAdd || n.Neighbor.SwIfIndex != 1 || n.Neighbor.IPAddress.String() != "192.0.2.1" || n.Neighbor.MacAddress.String() != "02:00:00:00:00:01" {
		t.Errorf("ip_neighbor_add_del %+v", n)
	}
	a := fakevpp.Of[*interfaces.SwInterfaceAddDelAddress](reqs)[0]
	if !a.IsAdd || a.SwIfIndex != 1 || a.Prefix.String() != "192.0.2.10/24" {
		t.Errorf("sw_interface_add_del_address %+v", a)
	}
	var routes []string
	for _, r := range fakevpp.Of[*ip.IPRouteAddDel](reqs) {
		if !r.IsAdd || r.IsMultipath || len(r.Route.Paths) != 1 || r.Route.Paths[0].SwIfIndex != 1 {
			t.Errorf("ip_route_add_del %+v", r)
			continue
		}
		routes = append(routes, r.Route.Prefix.String()+" via "+r.Route.Paths[0].Nh.Address.GetIP4().String())
	}
	if want := []string{"0.0.0.0/0 via 192.0.2.1", "198.51.100.0/24 via 192.0.2.254", "203.0.113.0/28 via 0.0.0.0"}; !slices.Equal(routes, want) {
		t.Errorf("routes\n got %v\nwant %v", routes, want)
	}
}

// A forwarder restarted against the same VPP finds its af_packet interface,
// ACLs and address and changes nothing but what is idempotent anyway.
func TestInitRestart(t *testing.T) {
	f := newFakeVPP(t)
	conn := f.Conn(t)
	up := uplink4(t)
	first, err := vppinit.Init(context.Background(), conn, up)
	if err != nil {
		t.Fatal(err)
	}
	firstReqs := f.Take()
	second, err := vppinit.Init(context.Background(), conn, up)
	if err != nil {
		t.Fatal(err)
	}
	reqs := f.Take()
	if second.Created || second.SwIfIndex != first.SwIfIndex {
		t.Errorf("second Init %+v, want the interface %d reused", second, first.SwIfIndex)
	}
	want := []string{
		"af_packet_dump", "sw_interface_set_mtu",
		"acl_dump", "acl_add_replace", "acl_add_replace", "acl_add_replace", "acl_add_replace", "acl_interface_set_acl_list",
		"sw_interface_set_flags", "ip_neighbor_add_del", "ip_address_dump",
		"ip_route_add_del", "ip_route_add_del", "ip_route_add_del",
	}
	if got := names(reqs); !slices.Equal(got, want) {
		t.Errorf("messages on restart\n got %v\nwant %v", got, want)
	}
	for _, a := range fakevpp.Of[*acl.ACLAddReplace](reqs) {
		if a.ACLIndex == ^uint32(0) {
			t.Errorf("ACL %s created again instead of replaced", a.Tag)
		}
	}
	if a, b := fakevpp.Of[*acl.ACLInterfaceSetACLList](firstReqs)[0], fakevpp.Of[*acl.ACLInterfaceSetACLList](reqs)[0]; !slices.Equal(a.Acls, b.Acls) {
		t.Errorf("ACL list %v, first run %v", b.Acls, a.Acls)
	}
	f.Lock()
	defer f.Unlock()
	if len(f.afp) != 1 || len(f.acls) != 4 || len(f.addrs[1]) != 1 {
		t.Errorf("VPP after two runs: %d af_packet, %d ACLs, %d addresses; want 1, 4, 1", len(f.afp), len(f.acls), len(f.addrs[1]))
	}
}

func TestInitOtherAfPacket(t *testing.T) {
	// An af_packet interface on another host link is not ours to reuse.
	f := newFakeVPP(t)
	f.afp["eth1"] = 7
	res, err := vppinit.Init(context.Background(), f.Conn(t), uplink4(t))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Created || res.SwIfIndex == 7 {
		t.Errorf("result %+v, want a new interface for eth0", res)
	}
}

func TestInitErrors(t *testing.T) {
	for _, msg := range []string{
		"af_packet_create_v3", "sw_interface_set_mtu", "acl_add_replace", "acl_interface_set_acl_list",
		"sw_interface_ip6_enable_disable", "sw_interface_ip6nd_ra_config", "sw_interface_set_flags",
		"ip_neighbor_add_del", "sw_interface_add_del_address", "ip_route_add_del",
	} {
		t.Run(msg, func(t *testing.T) {
			f := newFakeVPP(t)
			f.FailOn(msg, 1, -1)
			_, err := vppinit.Init(context.Background(), f.Conn(t), uplink6(t))
			if err == nil {
				t.Fatal("Init succeeded")
			}
			var rv api.VPPApiError
			if !strings.Contains(err.Error(), "vppinit: "+msg+": VPP refused (retval -1)") || !errors.As(err, &rv) {
				t.Errorf("error %q does not name %s and its retval", err, msg)
			}
			reqs := f.Take()
			if last := reqs[len(reqs)-1].Name; last != msg {
				t.Errorf("sent %s after the refused %s", last, msg)
			}
		})
	}
	t.Run("incomplete uplink", func(t *testing.T) {
		f := newFakeVPP(t)
		up := uplink4(t)
		up.MAC = nil
		if _, err := vppinit.Init(context.Background(), f.Conn(t), up); err == nil {
			t.Fatal("Init succeeded without a MAC")
		}
		if reqs := f.Take(); len(reqs) != 0 {
			t.Errorf("sent %v", names(reqs))
		}
	})
}
