// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package kernel_test

import (
	"fmt"
	"net"
	"net/netip"
	"reflect"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/nsmesh/nsmesh/sdk/dataplane/kernel"
	"github.com/nsmesh/nsmesh/sdk/internal/netnstest"
)

// TestApplyAmongOtherInterfaces configures one interface of a namespace
// that holds others with addresses, routes of kernel.RouteProtocol and
// permanent neighbours: Apply reaches the wanted state on its interface,
// leaves the others exactly as they were, and, where the kernel filters
// dumps, receives nothing about them. The whole-namespace fallback must
// behave the same.
func TestApplyAmongOtherInterfaces(t *testing.T) {
	netnstest.RequireRoot(t)
	for _, tc := range []struct {
		name     string
		filtered bool
	}{
		{"kernel-filtered dumps", true},
		{"whole-namespace dumps", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			restore := kernel.SetFilteredDumps(tc.filtered)
			defer restore()
			ctx, log := netnstest.Context(t), netnstest.Logger(t)
			ns, peers := netnstest.New(t, fmt.Sprintf("crd%t", tc.filtered)).NetNS, netnstest.New(t, fmt.Sprintf("crp%t", tc.filtered)).NetNS
			h := netnstest.Handle(t, ns)
			const others = 5
			for i := range others {
				name := fmt.Sprintf("v%d", i)
				addConfiguredVeth(t, h, peers, name, i)
				l, err := h.LinkByName(name)
				if err != nil {
					t.Fatal(err)
				}
				// What Apply would remove from its own interface if it
				// mistook these for its own: a second, IPv6, address and a
				// permanent neighbour.
				v6 := netip.MustParseAddr(fmt.Sprintf("fd00:99::%d", i+1))
				if err := h.AddrAdd(l, &netlink.Addr{IPNet: &net.IPNet{IP: v6.AsSlice(), Mask: net.CIDRMask(128, 128)},
					Flags: unix.IFA_F_NODAD}); err != nil {
					t.Fatal(err)
				}
				if err := h.NeighSet(&netlink.Neigh{LinkIndex: l.Attrs().Index, Family: netlink.FAMILY_V4,
					State: netlink.NUD_PERMANENT, IP: net.IPv4(10, 99, 0, byte(i+1)),
					HardwareAddr: net.HardwareAddr{0x02, 0, 0, 0, 0x99, byte(i + 1)}}); err != nil {
					t.Fatal(err)
				}
			}
			snapshot := func() map[string][]string {
				m := make(map[string][]string)
				for i := range others {
					name := fmt.Sprintf("v%d", i)
					m[name+" addrs"] = addrs(t, ns, name)
					m[name+" routes"] = routes(t, ns, name)
					m[name+" neighbours"] = neighbours(t, ns, name)
				}
				return m
			}
			before := snapshot()
			if err := h.LinkAdd(vethTo(peers, "nsm-t")); err != nil {
				t.Fatal(err)
			}

			steps := []struct {
				cfg        kernel.InterfaceConfig
				addrs      []string
				routes     []string
				neighbours []string
			}{
				{
					cfg: kernel.InterfaceConfig{
						Addrs:     []netip.Prefix{pfx("172.16.0.1/32"), pfx("fd00:1::1/128")},
						Routes:    []kernel.Route{{Dst: pfx("172.16.0.0/32")}, {Dst: pfx("fd00:1::/128")}, {Dst: pfx("10.98.0.0/16"), Gateway: ip("172.16.0.0")}},
						Neighbors: []kernel.Neighbor{{IP: ip("172.16.0.0"), MAC: mac("02:00:00:00:00:01")}},
						MTU:       1400,
					},
					addrs:      []string{"172.16.0.1/32", "fd00:1::1/128"},
					routes:     []string{"10.98.0.0/16 via 172.16.0.0", "172.16.0.0/32", "fd00:1::/128"},
					neighbours: []string{"172.16.0.0 02:00:00:00:00:01"},
				},
				{
					cfg: kernel.InterfaceConfig{
						Addrs:  []netip.Prefix{pfx("172.16.2.1/32")},
						Routes: []kernel.Route{{Dst: pfx("172.16.2.0/32")}},
					},
					addrs:  []string{"172.16.2.1/32"},
					routes: []string{"172.16.2.0/32"},
				},
			}
			for i, s := range steps {
				if err := s.cfg.Apply(ctx, log, ns, "nsm-t"); err != nil {
					t.Fatalf("step %d: Apply: %v", i, err)
				}
				if got := addrs(t, ns, "nsm-t"); !reflect.DeepEqual(got, s.addrs) {
					t.Errorf("step %d: addresses %v, want %v", i, got, s.addrs)
				}
				if got := routes(t, ns, "nsm-t"); !reflect.DeepEqual(got, s.routes) {
					t.Errorf("step %d: routes %v, want %v", i, got, s.routes)
				}
				if got := neighbours(t, ns, "nsm-t"); !reflect.DeepEqual(got, s.neighbours) {
					t.Errorf("step %d: permanent neighbours %v, want %v", i, got, s.neighbours)
				}
			}
			if after := snapshot(); !reflect.DeepEqual(after, before) {
				t.Errorf("other interfaces changed:\nbefore %v\nafter  %v", before, after)
			}

			filtered, foreign, err := kernel.ReadLikeApply(ns, "nsm-t")
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.filtered && !filtered:
				t.Skip("this kernel does not filter dumps (strict checking needs Linux 4.20)")
			case tc.filtered && foreign != 0:
				t.Errorf("the kernel sent %d entries of other interfaces to a filtered dump", foreign)
			case !tc.filtered && foreign == 0:
				// Proves that the count above sees other interfaces' entries.
				t.Errorf("a whole-namespace dump sent no entries of other interfaces")
			}
		})
	}
}
