// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package kernel_test

import (
	"net"
	"net/netip"
	"reflect"
	"testing"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/dataplane/kernel"
)

func p2pContext() *networkservice.ConnectionContext {
	return &networkservice.ConnectionContext{
		MTU: 1446,
		IpContext: &networkservice.IPContext{
			SrcIpAddrs: []string{"172.16.0.1/32"},
			DstIpAddrs: []string{"172.16.0.0/32"},
			SrcRoutes:  []*networkservice.Route{{Prefix: "172.16.0.0/32"}},
			DstRoutes:  []*networkservice.Route{{Prefix: "172.16.0.1/32"}},
		},
	}
}

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func ip(s string) netip.Addr    { return netip.MustParseAddr(s) }

func mac(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

func TestConfigFromContext(t *testing.T) {
	for _, tc := range []struct {
		name string
		cc   *networkservice.ConnectionContext
		side kernel.Side
		want kernel.InterfaceConfig
	}{
		{
			name: "p2p client side",
			cc:   p2pContext(),
			side: kernel.SideSrc,
			want: kernel.InterfaceConfig{
				Addrs:  []netip.Prefix{pfx("172.16.0.1/32")},
				Routes: []kernel.Route{{Dst: pfx("172.16.0.0/32")}},
				MTU:    1446,
			},
		},
		{
			name: "p2p endpoint side",
			cc:   p2pContext(),
			side: kernel.SideDst,
			want: kernel.InterfaceConfig{
				Addrs:  []netip.Prefix{pfx("172.16.0.0/32")},
				Routes: []kernel.Route{{Dst: pfx("172.16.0.1/32")}},
				MTU:    1446,
			},
		},
		{
			name: "routes without next hop go via the peer of their family",
			cc: &networkservice.ConnectionContext{IpContext: &networkservice.IPContext{
				SrcIpAddrs: []string{"172.16.0.1/32", "fd00::1/128"},
				DstIpAddrs: []string{"172.16.0.0/32", "fd00::/128"},
				SrcRoutes: []*networkservice.Route{
					{Prefix: "10.0.0.0/8"}, {Prefix: "::/0"}, {Prefix: "fd00::/128"},
				},
			}},
			side: kernel.SideSrc,
			want: kernel.InterfaceConfig{
				Addrs: []netip.Prefix{pfx("172.16.0.1/32"), pfx("fd00::1/128")},
				Routes: []kernel.Route{
					{Dst: pfx("172.16.0.0/32")},
					{Dst: pfx("fd00::/128")},
					{Dst: pfx("10.0.0.0/8"), Gateway: ip("172.16.0.0")},
					{Dst: pfx("::/0"), Gateway: ip("fd00::")},
				},
			},
		},
		{
			name: "explicit next hop, host bits masked, bare addresses, no peer of the family",
			cc: &networkservice.ConnectionContext{IpContext: &networkservice.IPContext{
				DstIpAddrs: []string{"10.1.0.5/24"},
				SrcIpAddrs: []string{"10.1.0.6"},
				DstRoutes: []*networkservice.Route{
					{Prefix: "192.168.7.9/24", NextHop: "10.1.0.1"},
					{Prefix: "2001:db8::/64"},
				},
			}},
			side: kernel.SideDst,
			want: kernel.InterfaceConfig{
				Addrs: []netip.Prefix{pfx("10.1.0.5/24")},
				Routes: []kernel.Route{
					{Dst: pfx("10.1.0.6/32")},
					{Dst: pfx("192.168.7.0/24"), Gateway: ip("10.1.0.1")},
					{Dst: pfx("2001:db8::/64")},
				},
			},
		},
		{
			name: "a context route overrides the peer host route",
			cc: &networkservice.ConnectionContext{IpContext: &networkservice.IPContext{
				SrcIpAddrs: []string{"172.16.0.1/32"},
				DstIpAddrs: []string{"172.16.0.0/32"},
				SrcRoutes:  []*networkservice.Route{{Prefix: "172.16.0.0/32", NextHop: "172.16.0.9"}},
			}},
			side: kernel.SideSrc,
			want: kernel.InterfaceConfig{
				Addrs:  []netip.Prefix{pfx("172.16.0.1/32")},
				Routes: []kernel.Route{{Dst: pfx("172.16.0.0/32"), Gateway: ip("172.16.0.9")}},
			},
		},
		{
			name: "neighbours: own address skipped, last entry wins, policies counted",
			cc: &networkservice.ConnectionContext{IpContext: &networkservice.IPContext{
				SrcIpAddrs: []string{"172.16.0.1/32", "172.16.0.1/32"},
				IpNeighbors: []*networkservice.IpNeighbor{
					{Ip: "172.16.0.0", HardwareAddress: "02:00:00:00:00:01"},
					{Ip: "172.16.0.1", HardwareAddress: "02:00:00:00:00:02"},
					{Ip: "172.16.0.0", HardwareAddress: "02:00:00:00:00:03"},
					{Ip: "::ffff:172.16.0.7", HardwareAddress: "02:00:00:00:00:04"},
				},
				Policies: []*networkservice.PolicyRoute{{From: "172.16.0.1/32"}},
			}},
			side: kernel.SideSrc,
			want: kernel.InterfaceConfig{
				Addrs: []netip.Prefix{pfx("172.16.0.1/32")},
				Neighbors: []kernel.Neighbor{
					{IP: ip("172.16.0.0"), MAC: mac("02:00:00:00:00:03")},
					{IP: ip("172.16.0.7"), MAC: mac("02:00:00:00:00:04")},
				},
				IgnoredPolicies: 1,
			},
		},
		{
			name: "nil context",
			side: kernel.SideDst,
			want: kernel.InterfaceConfig{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := kernel.ConfigFromContext(tc.cc, tc.side)
			if err != nil {
				t.Fatalf("ConfigFromContext: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ConfigFromContext =\n %+v\nwant\n %+v", got, tc.want)
			}
		})
	}
}

func TestConfigFromContextErrors(t *testing.T) {
	withIP := func(f func(*networkservice.IPContext)) *networkservice.ConnectionContext {
		cc := p2pContext()
		f(cc.IpContext)
		return cc
	}
	for _, tc := range []struct {
		name string
		cc   *networkservice.ConnectionContext
		side kernel.Side
	}{
		{"invalid side", p2pContext(), kernel.Side(0)},
		{"bad own address", withIP(func(c *networkservice.IPContext) { c.SrcIpAddrs = []string{"172.16.0.300/32"} }), kernel.SideSrc},
		{"bad peer address", withIP(func(c *networkservice.IPContext) { c.SrcIpAddrs = []string{"nope"} }), kernel.SideDst},
		{"bad route prefix", withIP(func(c *networkservice.IPContext) { c.DstRoutes = []*networkservice.Route{{Prefix: "10.0.0.0/33"}} }), kernel.SideDst},
		{"bad next hop", withIP(func(c *networkservice.IPContext) {
			c.SrcRoutes = []*networkservice.Route{{Prefix: "10.0.0.0/8", NextHop: "10.0.0"}}
		}), kernel.SideSrc},
		{"next hop of the other family", withIP(func(c *networkservice.IPContext) {
			c.SrcRoutes = []*networkservice.Route{{Prefix: "10.0.0.0/8", NextHop: "fd00::1"}}
		}), kernel.SideSrc},
		{"bad neighbour mac", withIP(func(c *networkservice.IPContext) {
			c.IpNeighbors = []*networkservice.IpNeighbor{{Ip: "172.16.0.0", HardwareAddress: "zz"}}
		}), kernel.SideSrc},
		{"bad neighbour ip", withIP(func(c *networkservice.IPContext) {
			c.IpNeighbors = []*networkservice.IpNeighbor{{Ip: "x", HardwareAddress: "02:00:00:00:00:01"}}
		}), kernel.SideSrc},
		{"implausible mtu", &networkservice.ConnectionContext{MTU: 1 << 30}, kernel.SideSrc},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if c, err := kernel.ConfigFromContext(tc.cc, tc.side); err == nil {
				t.Errorf("ConfigFromContext = %+v, want an error", c)
			}
		})
	}
}

func FuzzConfigFromContext(f *testing.F) {
	f.Add("172.16.0.1/32", "172.16.0.0/32", "10.0.0.0/8", "", "172.16.0.5", "02:00:00:00:00:01")
	f.Add("fd00::1/128", "fd00::", "::/0", "fd00::", "fd00::9", "02:00:00:00:00:02")
	f.Fuzz(func(t *testing.T, src, dst, prefix, nextHop, neighIP, neighMAC string) {
		cc := &networkservice.ConnectionContext{IpContext: &networkservice.IPContext{
			SrcIpAddrs:  []string{src},
			DstIpAddrs:  []string{dst},
			SrcRoutes:   []*networkservice.Route{{Prefix: prefix, NextHop: nextHop}},
			DstRoutes:   []*networkservice.Route{{Prefix: prefix, NextHop: nextHop}},
			IpNeighbors: []*networkservice.IpNeighbor{{Ip: neighIP, HardwareAddress: neighMAC}},
		}}
		for _, side := range []kernel.Side{kernel.SideSrc, kernel.SideDst} {
			c, err := kernel.ConfigFromContext(cc, side)
			if err != nil {
				continue
			}
			seen := map[netip.Prefix]bool{}
			for _, r := range c.Routes {
				if r.Dst != r.Dst.Masked() {
					t.Fatalf("route %s has host bits", r.Dst)
				}
				if seen[r.Dst] {
					t.Fatalf("duplicate route %s", r.Dst)
				}
				seen[r.Dst] = true
				if r.Gateway.IsValid() && r.Gateway.Is4() != r.Dst.Addr().Is4() {
					t.Fatalf("route %s via %s mixes families", r.Dst, r.Gateway)
				}
			}
			for _, a := range c.Addrs {
				if a.Addr().Is4In6() || !a.IsValid() {
					t.Fatalf("address %s not normalised", a)
				}
			}
		}
	})
}
