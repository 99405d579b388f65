// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package vppxc_test

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"go.fd.io/govpp/binapi/fib_types"
	interfaces "go.fd.io/govpp/binapi/interface"
	"go.fd.io/govpp/binapi/interface_types"
	"go.fd.io/govpp/binapi/l2"
	"go.fd.io/govpp/binapi/l3xc"
	"go.fd.io/govpp/binapi/tapv2"
	"go.fd.io/govpp/binapi/vlib"
	"go.fd.io/govpp/binapi/vxlan"
	"go.fd.io/govpp/binapi/wireguard"

	"github.com/nsmesh/nsmesh/apis/networkservice/payload"
	"github.com/nsmesh/nsmesh/sdk/dataplane/kernel"
	"github.com/nsmesh/nsmesh/sdk/dataplane/vpp/internal/fakevpp"
	"github.com/nsmesh/nsmesh/sdk/dataplane/vpp/vppxc"
	"github.com/nsmesh/nsmesh/sdk/networkservice/xconnect"
)

// The message sequences of one interface.
var (
	tapCreate = []string{"tap_create_v3", "sw_interface_tag_add_del", "sw_interface_set_rx_mode", "sw_interface_set_mtu", "sw_interface_set_flags"}
	vxlanAdd  = []string{"add_node_next", "vxlan_add_del_tunnel_v3", "sw_interface_tag_add_del", "sw_interface_set_mtu", "sw_interface_set_flags"}
	wgCreate  = []string{"wireguard_interface_create", "sw_interface_tag_add_del", "wireguard_peer_add", "sw_interface_set_mtu", "sw_interface_set_flags"}
	l3xcAll   = []string{"l3xc_update", "l3xc_update", "l3xc_update", "l3xc_update"}
	l3xcDel   = []string{"l3xc_del", "l3xc_del", "l3xc_del", "l3xc_del"}
	l2xcBoth  = []string{"sw_interface_set_l2_xconnect", "sw_interface_set_l2_xconnect"}
	verify    = []string{"sw_interface_dump", "sw_interface_dump"}
)

func seq(parts ...[]string) []string { return slices.Concat(parts...) }

func TestProgram(t *testing.T) {
	clientPriv, clientPub := keyPair(t, 8)
	endpointPriv, endpointPub := keyPair(t, 16)
	store := keys{clientPub: clientPriv, endpointPub: endpointPriv}

	tests := []struct {
		name          string
		pair          *xconnect.Pair
		wantProgram   []string
		wantUnprogram []string
		// wantConfigured lists the workload interfaces configured, with the
		// side and MTU they get.
		wantConfigured []configured
		check          func(t *testing.T, reqs []request)
	}{
		{
			name: "kernel-kernel IP",
			pair: newPair("conn-1", payload.IP, dualStack(0), kernelMech(testNetNS, "nsc-1"), kernelMech(testNetNS, "nse-1")),
			// A tap for each side, then one l3xc per direction and family.
			wantProgram:    seq(tapCreate, tapCreate, l3xcAll),
			wantUnprogram:  seq(verify, l3xcDel, []string{"tap_delete_v2", "tap_delete_v2"}),
			wantConfigured: []configured{{name: "nsc-1", side: kernel.SideSrc}, {name: "nse-1", side: kernel.SideDst}},
			check: func(t *testing.T, reqs []request) {
				taps := fakevpp.Of[*tapv2.TapCreateV3](reqs)
				for i, want := range []struct{ name, tagPrefix string }{
					{"nsc-1", "nsm:fwd1:conn-1:ut:"}, {"nse-1", "nsm:fwd1:conn-1:dt:"},
				} {
					tap := taps[i]
					if !tap.HostNamespaceSet || tap.HostNamespace != testNetNS || !tap.HostIfNameSet || tap.HostIfName != want.name {
						t.Errorf("tap %d: host_namespace %q, host_if_name %q; want %q, %q", i, tap.HostNamespace, tap.HostIfName, testNetNS, want.name)
					}
					if tap.TapFlags&tapv2.TAP_API_FLAG_TUN == 0 {
						t.Errorf("tap %d: IP payload wants a TUN tap, flags %v", i, tap.TapFlags)
					}
					if !strings.HasPrefix(tap.Tag, want.tagPrefix) || len(tap.Tag) > 63 {
						t.Errorf("tap %d: tag %q, want %s<hash>", i, tap.Tag, want.tagPrefix)
					}
				}
				tagged := fakevpp.Of[*interfaces.SwInterfaceTagAddDel](reqs)
				if tagged[0].Tag != taps[0].Tag || tagged[1].Tag != taps[1].Tag || tagged[0].SwIfIndex != 1 || tagged[1].SwIfIndex != 2 {
					t.Errorf("tags %+v do not match the taps' %q, %q", tagged, taps[0].Tag, taps[1].Tag)
				}
				for _, m := range fakevpp.Of[*interfaces.SwInterfaceSetRxMode](reqs) {
					if m.Mode != interface_types.RX_MODE_API_ADAPTIVE {
						t.Errorf("rx mode %v, want adaptive", m.Mode)
					}
				}
				for _, m := range fakevpp.Of[*interfaces.SwInterfaceSetMtu](reqs) {
					if !slices.Equal(m.Mtu, []uint32{1500, 1500, 1500, 1500}) {
						t.Errorf("mtu %v, want the default 1500 in all four slots", m.Mtu)
					}
				}
				for _, m := range fakevpp.Of[*interfaces.SwInterfaceSetFlags](reqs) {
					if m.Flags != interface_types.IF_STATUS_API_FLAG_ADMIN_UP {
						t.Errorf("flags %v, want admin up", m.Flags)
					}
				}
				// Client side (1) to endpoint side (2) goes to the
				// endpoint's addresses, and back to the client's.
				checkL3xc(t, fakevpp.Of[*l3xc.L3xcUpdate](reqs), []l3xcWant{
					{1, 2, false, "10.0.0.2"}, {1, 2, true, "fd00::2"}, {2, 1, false, "10.0.0.1"}, {2, 1, true, "fd00::1"},
				})
			},
		},
		{
			name:           "kernel-kernel ETHERNET",
			pair:           newPair("conn-2", payload.Ethernet, dualStack(9000), kernelMech(testNetNS, "nsc-2"), kernelMech(testNetNS, "nse-2")),
			wantProgram:    seq(tapCreate, tapCreate, l2xcBoth),
			wantUnprogram:  seq(verify, l2xcBoth, []string{"tap_delete_v2", "tap_delete_v2"}),
			wantConfigured: []configured{{name: "nsc-2", side: kernel.SideSrc}, {name: "nse-2", side: kernel.SideDst}},
			check: func(t *testing.T, reqs []request) {
				for _, tap := range fakevpp.Of[*tapv2.TapCreateV3](reqs) {
					if tap.TapFlags&tapv2.TAP_API_FLAG_TUN != 0 {
						t.Errorf("Ethernet payload wants a TAP tap, flags %v", tap.TapFlags)
					}
					if !tap.HostMtuSet || tap.HostMtuSize != 9000 {
						t.Errorf("host MTU %d, want the context's 9000", tap.HostMtuSize)
					}
				}
				xc := fakevpp.Of[*l2.SwInterfaceSetL2Xconnect](reqs)
				want := []l2.SwInterfaceSetL2Xconnect{
					{RxSwIfIndex: 1, TxSwIfIndex: 2, Enable: true}, {RxSwIfIndex: 2, TxSwIfIndex: 1, Enable: true},
					// Unprogram, in reverse.
					{RxSwIfIndex: 2, TxSwIfIndex: 1}, {RxSwIfIndex: 1, TxSwIfIndex: 2},
				}
				for i := range want {
					if *xc[i] != want[i] {
						t.Errorf("l2 xconnect %d = %+v, want %+v", i, *xc[i], want[i])
					}
				}
			},
		},
		{
			name: "kernel-vxlan on the client node",
			// IP payload over VXLAN still uses TAP taps and an L2
			// cross-connect: the peer exchanges Ethernet frames.
			pair:           newPair("conn-3", payload.IP, dualStack(0), kernelMech(testNetNS, "nsc-3"), vxlanMech("192.0.2.1", "192.0.2.2", 4242, 0, 0)),
			wantProgram:    seq(tapCreate, vxlanAdd, l2xcBoth),
			wantUnprogram:  seq(verify, l2xcBoth, []string{"vxlan_add_del_tunnel_v3", "tap_delete_v2"}),
			wantConfigured: []configured{{name: "nsc-3", side: kernel.SideSrc}},
			check: func(t *testing.T, reqs []request) {
				if tap := fakevpp.Of[*tapv2.TapCreateV3](reqs)[0]; tap.TapFlags != 0 {
					t.Errorf("tap flags %v, want a TAP", tap.TapFlags)
				}
				next := fakevpp.Of[*vlib.AddNodeNext](reqs)[0]
				if next.NodeName != "vxlan4-input" || next.NextName != "ethernet-input" {
					t.Errorf("add_node_next %+v", next)
				}
				tun := fakevpp.Of[*vxlan.VxlanAddDelTunnelV3](reqs)
				add, del := tun[0], tun[1]
				if !add.IsAdd || add.SrcAddress.String() != "192.0.2.1" || add.DstAddress.String() != "192.0.2.2" ||
					add.Vni != 4242 || add.SrcPort != 4789 || add.DstPort != 4789 || add.DecapNextIndex != 7 || add.Instance != ^uint32(0) {
					t.Errorf("vxlan add %+v", add)
				}
				if del.IsAdd || del.SrcAddress != add.SrcAddress || del.DstAddress != add.DstAddress || del.Vni != add.Vni {
					t.Errorf("vxlan delete %+v does not name the tunnel added %+v", del, add)
				}
				for _, m := range fakevpp.Of[*interfaces.SwInterfaceSetMtu](reqs) {
					if m.Mtu[0] != 1450 {
						t.Errorf("mtu %d, want 1500-50", m.Mtu[0])
					}
				}
			},
		},
		{
			name: "vxlan-kernel on the endpoint node",
			pair: newPair("conn-4", payload.Ethernet, dualStack(1400),
				vxlanMech("192.0.2.1", "192.0.2.2", 4243, 4790, 4791), kernelMech(testNetNS, "nse-4")),
			wantProgram:    seq(vxlanAdd, tapCreate, l2xcBoth),
			wantUnprogram:  seq(verify, l2xcBoth, []string{"tap_delete_v2", "vxlan_add_del_tunnel_v3"}),
			wantConfigured: []configured{{name: "nse-4", side: kernel.SideDst}},
			check: func(t *testing.T, reqs []request) {
				// This node is dst: local address and port are the dst ones.
				add := fakevpp.Of[*vxlan.VxlanAddDelTunnelV3](reqs)[0]
				if add.SrcAddress.String() != "192.0.2.2" || add.DstAddress.String() != "192.0.2.1" || add.SrcPort != 4791 || add.DstPort != 4790 {
					t.Errorf("vxlan add %+v, want local 192.0.2.2:4791, remote 192.0.2.1:4790", add)
				}
				for _, m := range fakevpp.Of[*interfaces.SwInterfaceSetMtu](reqs) {
					if m.Mtu[0] != 1400 {
						t.Errorf("mtu %d, want the context's 1400", m.Mtu[0])
					}
				}
				if tag := fakevpp.Of[*interfaces.SwInterfaceTagAddDel](reqs)[0].Tag; !strings.HasPrefix(tag, "nsm:fwd1:conn-4:ux:") {
					t.Errorf("tunnel tag %q", tag)
				}
			},
		},
		{
			name: "kernel-wireguard on the client node",
			pair: newPair("conn-5", payload.IP, dualStack(0), kernelMech(testNetNS, "nsc-5"),
				wgMech("192.0.2.1", "192.0.2.2", 51820, 51821, clientPub, endpointPub)),
			wantProgram:    seq(tapCreate, wgCreate, l3xcAll),
			wantUnprogram:  seq(verify, l3xcDel, []string{"wireguard_peer_remove", "wireguard_interface_delete", "tap_delete_v2"}),
			wantConfigured: []configured{{name: "nsc-5", side: kernel.SideSrc}},
			check: func(t *testing.T, reqs []request) {
				c := fakevpp.Of[*wireguard.WireguardInterfaceCreate](reqs)[0]
				if c.GenerateKey || !slices.Equal(c.Interface.PrivateKey, clientPriv[:]) || c.Interface.Port != 51820 ||
					c.Interface.SrcIP.String() != "192.0.2.1" || c.Interface.UserInstance != ^uint32(0) {
					t.Errorf("wireguard_interface_create %+v", c)
				}
				p := fakevpp.Of[*wireguard.WireguardPeerAdd](reqs)[0].Peer
				if !slices.Equal(p.PublicKey, endpointPub[:]) || p.Endpoint.String() != "192.0.2.2" || p.Port != 51821 ||
					p.PersistentKeepalive != 10 || p.SwIfIndex != 2 || len(p.AllowedIps) != 2 ||
					p.AllowedIps[0].String() != "0.0.0.0/0" || p.AllowedIps[1].String() != "::/0" {
					t.Errorf("wireguard_peer_add %+v", p)
				}
				for _, m := range fakevpp.Of[*interfaces.SwInterfaceSetMtu](reqs) {
					if m.Mtu[0] != 1440 {
						t.Errorf("mtu %d, want 1500-60", m.Mtu[0])
					}
				}
				checkL3xc(t, fakevpp.Of[*l3xc.L3xcUpdate](reqs), []l3xcWant{
					{1, 2, false, "10.0.0.2"}, {1, 2, true, "fd00::2"}, {2, 1, false, "10.0.0.1"}, {2, 1, true, "fd00::1"},
				})
			},
		},
		{
			name: "wireguard-kernel on the endpoint node",
			pair: newPair("conn-6", "", dualStack(0),
				wgMech("2001:db8::1", "2001:db8::2", 51820, 51821, clientPub, endpointPub), kernelMech(testNetNS, "nse-6")),
			wantProgram:    seq(wgCreate, tapCreate, l3xcAll),
			wantUnprogram:  seq(verify, l3xcDel, []string{"tap_delete_v2", "wireguard_peer_remove", "wireguard_interface_delete"}),
			wantConfigured: []configured{{name: "nse-6", side: kernel.SideDst}},
			check: func(t *testing.T, reqs []request) {
				c := fakevpp.Of[*wireguard.WireguardInterfaceCreate](reqs)[0]
				if !slices.Equal(c.Interface.PrivateKey, endpointPriv[:]) || c.Interface.Port != 51821 || c.Interface.SrcIP.String() != "2001:db8::2" {
					t.Errorf("wireguard_interface_create %+v", c)
				}
				p := fakevpp.Of[*wireguard.WireguardPeerAdd](reqs)[0].Peer
				if !slices.Equal(p.PublicKey, clientPub[:]) || p.Endpoint.String() != "2001:db8::1" || p.Port != 51820 {
					t.Errorf("wireguard_peer_add %+v", p)
				}
				if tap := fakevpp.Of[*tapv2.TapCreateV3](reqs)[0]; tap.TapFlags&tapv2.TAP_API_FLAG_TUN == 0 {
					t.Error("an unset payload over WireGuard is IP: want a TUN tap")
				}
				for _, m := range fakevpp.Of[*interfaces.SwInterfaceSetMtu](reqs) {
					if m.Mtu[0] != 1420 {
						t.Errorf("mtu %d, want 1500-80", m.Mtu[0])
					}
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := newFakeVPP(t)
			rec := &configRecorder{}
			dp := newDataplane(t, fake.Conn(t), vppxc.WithConfigurer(rec.configure), vppxc.WithPrivateKeys(store))
			fake.Take() // the startup dump
			ctx := context.Background()
			var rendered strings.Builder

			if err := dp.Program(ctx, tt.pair); err != nil {
				t.Fatal(err)
			}
			programmed := fake.Take()
			if got := names(programmed); !slices.Equal(got, tt.wantProgram) {
				t.Errorf("Program sent\n  %v\nwant\n  %v", got, tt.wantProgram)
			}
			rendered.WriteString("# Program\n" + render(programmed))
			checkConfigured(t, rec.take(), tt.wantConfigured, tt.pair)
			programmedState := fake.state()

			// A refresh only checks that the interfaces are still there.
			if err := dp.Program(ctx, tt.pair); err != nil {
				t.Fatal(err)
			}
			refreshed := fake.Take()
			if got := names(refreshed); !slices.Equal(got, verify) {
				t.Errorf("refresh sent %v, want only %v", got, verify)
			}
			for _, r := range refreshed {
				if strings.Contains(r.Name, "create") || strings.HasSuffix(r.Name, "_add") || r.Name == "vxlan_add_del_tunnel_v3" {
					t.Errorf("refresh sent %s", r.Name)
				}
			}
			rendered.WriteString("# refresh\n" + render(refreshed))
			checkConfigured(t, rec.take(), tt.wantConfigured, tt.pair)
			if got := fake.state(); got != programmedState {
				t.Errorf("refresh changed VPP:\n%s\nwas\n%s", got, programmedState)
			}
			if got := dp.Connections(); !slices.Equal(got, []string{tt.pair.ID}) {
				t.Errorf("Connections = %v", got)
			}

			if err := dp.Unprogram(ctx, tt.pair); err != nil {
				t.Fatal(err)
			}
			unprogrammed := fake.Take()
			if got := names(unprogrammed); !slices.Equal(got, tt.wantUnprogram) {
				t.Errorf("Unprogram sent\n  %v\nwant\n  %v", got, tt.wantUnprogram)
			}
			rendered.WriteString("# Unprogram\n" + render(unprogrammed))
			if got := fake.state(); got != "peers 0\n" {
				t.Errorf("VPP after Unprogram:\n%s", got)
			}
			if got := dp.Connections(); len(got) != 0 {
				t.Errorf("Connections after Unprogram = %v", got)
			}
			tt.check(t, slices.Concat(programmed, unprogrammed))
			golden(t, tt.name, rendered.String())
		})
	}
}

type l3xcWant struct {
	rx, tx  uint32
	ip6     bool
	nextHop string
}

func checkL3xc(t *testing.T, got []*l3xc.L3xcUpdate, want []l3xcWant) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d l3xc_update, want %d", len(got), len(want))
	}
	for i, w := range want {
		x := got[i].L3xc
		if uint32(x.SwIfIndex) != w.rx || x.IsIP6 != w.ip6 || len(x.Paths) != 1 || x.NPaths != 1 {
			t.Errorf("l3xc %d: %+v, want rx %d ip6 %t one path", i, x, w.rx, w.ip6)
			continue
		}
		p := x.Paths[0]
		nh := netip.MustParseAddr(w.nextHop)
		proto := fib_types.FIB_API_PATH_NH_PROTO_IP4
		var gotNH netip.Addr
		if w.ip6 {
			proto = fib_types.FIB_API_PATH_NH_PROTO_IP6
			gotNH = netip.AddrFrom16(p.Nh.Address.GetIP6())
		} else {
			gotNH = netip.AddrFrom4(p.Nh.Address.GetIP4())
		}
		if p.SwIfIndex != w.tx || p.Proto != proto || gotNH != nh || p.Type != fib_types.FIB_API_PATH_TYPE_NORMAL || p.Weight != 1 {
			t.Errorf("l3xc %d path: out %d proto %v next hop %s; want out %d proto %v next hop %s", i, p.SwIfIndex, p.Proto, gotNH, w.tx, proto, nh)
		}
	}
}

// checkConfigured compares the workload-side configuration with want: the
// interface names and sides, in the test's namespace, with the MTU VPP's
// side got and the pair's addresses.
func checkConfigured(t *testing.T, got, want []configured, p *xconnect.Pair) {
	t.Helper()
	ns, err := kernel.OpenNetNS(testNetNS)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ns.Close() }()
	if len(got) != len(want) {
		t.Fatalf("configured %d interfaces, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.name != w.name || g.side != w.side || g.ns != ns.ID() {
			t.Errorf("configured %s (%s) in %s, want %s (%s) in %s", g.name, g.side, g.ns, w.name, w.side, ns.ID())
		}
		if g.cc.GetMTU() == 0 {
			t.Errorf("%s configured without an MTU", g.name)
		}
		if !slices.Equal(g.cc.GetIpContext().GetSrcIpAddrs(), p.Upstream.GetContext().GetIpContext().GetSrcIpAddrs()) {
			t.Errorf("%s configured with another context: %v", g.name, g.cc)
		}
	}
}
