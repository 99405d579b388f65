// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package kernel

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/nsmesh/nsmesh/apis/networkservice"
)

// Side selects which end of a connection an interface is.
type Side int

const (
	// SideSrc is the client (NSC) end: it gets ip_context.src_ip_addrs and
	// src_routes, and its peers are the dst addresses.
	SideSrc Side = iota + 1
	// SideDst is the endpoint (NSE) end: dst_ip_addrs and dst_routes, with
	// the src addresses as peers.
	SideDst
)

func (s Side) String() string {
	switch s {
	case SideSrc:
		return "src"
	case SideDst:
		return "dst"
	default:
		return fmt.Sprintf("side(%d)", int(s))
	}
}

// Route is a route through the interface. An invalid Gateway means the
// destination is directly on the link.
type Route struct {
	Dst     netip.Prefix
	Gateway netip.Addr
}

// Neighbor is a static neighbour (ARP/NDP) entry.
type Neighbor struct {
	IP  netip.Addr
	MAC net.HardwareAddr
}

// InterfaceConfig is the L3 state of one interface, derived from a
// connection context for one side. Apply makes the interface match it.
type InterfaceConfig struct {
	// Addrs are the interface addresses with their prefix lengths.
	Addrs []netip.Prefix
	// Routes are installed in the main table, each with a distinct Dst.
	Routes []Route
	// Neighbors are installed as permanent entries.
	Neighbors []Neighbor
	// MTU is set when non-zero.
	MTU int
	// IgnoredPolicies counts ip_context.policies, which are not applied
	// (policy routing is not implemented yet).
	IgnoredPolicies int
}

// ConfigFromContext computes the configuration of the side's interface:
//   - addresses: that side's ip addresses;
//   - a host route on the link to every peer address (the other side's),
//     which is what makes /32 and /128 point-to-point addressing work;
//   - that side's routes; a route without next hop goes via the peer address
//     of its family (on-link), or straight onto the link when it is the
//     peer's own host prefix or there is no peer address of that family;
//   - ip_neighbors, except entries for the side's own addresses;
//   - the context MTU.
//
// Routes are keyed by destination; a context route replaces the peer host
// route with the same destination.
func ConfigFromContext(cc *networkservice.ConnectionContext, side Side) (InterfaceConfig, error) {
	ipc := cc.GetIpContext()
	var (
		ownField, peerField, routeField string
		own, peer                       []string
		routes                          []*networkservice.Route
	)
	switch side {
	case SideSrc:
		ownField, peerField, routeField = "src_ip_addrs", "dst_ip_addrs", "src_routes"
		own, peer, routes = ipc.GetSrcIpAddrs(), ipc.GetDstIpAddrs(), ipc.GetSrcRoutes()
	case SideDst:
		ownField, peerField, routeField = "dst_ip_addrs", "src_ip_addrs", "dst_routes"
		own, peer, routes = ipc.GetDstIpAddrs(), ipc.GetSrcIpAddrs(), ipc.GetDstRoutes()
	default:
		return InterfaceConfig{}, fmt.Errorf("kernel: config: invalid side %d", int(side))
	}
	c := InterfaceConfig{MTU: int(cc.GetMTU()), IgnoredPolicies: len(ipc.GetPolicies())}
	if cc.GetMTU() > 1<<20 {
		return InterfaceConfig{}, fmt.Errorf("kernel: config: mtu %d is not plausible", cc.GetMTU())
	}
	ownSet := make(map[netip.Addr]bool)
	seenAddr := make(map[netip.Prefix]bool)
	for i, s := range own {
		p, err := parseAddrPrefix(s)
		if err != nil {
			return InterfaceConfig{}, fmt.Errorf("kernel: config: ip_context.%s[%d]: %w", ownField, i, err)
		}
		ownSet[p.Addr()] = true
		if !seenAddr[p] {
			seenAddr[p] = true
			c.Addrs = append(c.Addrs, p)
		}
	}
	var peers []netip.Addr
	for i, s := range peer {
		p, err := parseAddrPrefix(s)
		if err != nil {
			return InterfaceConfig{}, fmt.Errorf("kernel: config: ip_context.%s[%d]: %w", peerField, i, err)
		}
		peers = append(peers, p.Addr())
	}

	idx := make(map[netip.Prefix]int)
	put := func(r Route) {
		if i, ok := idx[r.Dst]; ok {
			c.Routes[i] = r
			return
		}
		idx[r.Dst] = len(c.Routes)
		c.Routes = append(c.Routes, r)
	}
	isPeer := make(map[netip.Prefix]bool)
	for _, a := range peers {
		if ownSet[a] {
			continue // a misconfigured context; a route to ourselves helps nobody
		}
		host := netip.PrefixFrom(a, a.BitLen())
		isPeer[host] = true
		put(Route{Dst: host})
	}
	for i, r := range routes {
		dst, err := parseAddrPrefix(r.GetPrefix())
		if err != nil {
			return InterfaceConfig{}, fmt.Errorf("kernel: config: ip_context.%s[%d].prefix: %w", routeField, i, err)
		}
		dst = dst.Masked()
		route := Route{Dst: dst}
		switch {
		case r.GetNextHop() != "":
			gw, err := netip.ParseAddr(r.GetNextHop())
			if err != nil {
				return InterfaceConfig{}, fmt.Errorf("kernel: config: ip_context.%s[%d].nextHop: %w", routeField, i, err)
			}
			gw = gw.Unmap()
			if gw.Is4() != dst.Addr().Is4() {
				return InterfaceConfig{}, fmt.Errorf("kernel: config: ip_context.%s[%d]: next hop %s is not of the family of %s", routeField, i, gw, dst)
			}
			route.Gateway = gw
		case isPeer[dst]:
			// The peer's own address: on the link, no gateway.
		default:
			for _, a := range peers {
				if a.Is4() == dst.Addr().Is4() && !ownSet[a] {
					route.Gateway = a
					break
				}
			}
		}
		put(route)
	}

	seenNeigh := make(map[netip.Addr]int)
	for i, n := range ipc.GetIpNeighbors() {
		ip, err := netip.ParseAddr(n.GetIp())
		if err != nil {
			return InterfaceConfig{}, fmt.Errorf("kernel: config: ip_context.ip_neighbors[%d].ip: %w", i, err)
		}
		ip = ip.Unmap()
		mac, err := net.ParseMAC(n.GetHardwareAddress())
		if err != nil {
			return InterfaceConfig{}, fmt.Errorf("kernel: config: ip_context.ip_neighbors[%d].hardware_address: %w", i, err)
		}
		if ownSet[ip] {
			continue
		}
		if j, ok := seenNeigh[ip]; ok {
			c.Neighbors[j].MAC = mac
			continue
		}
		seenNeigh[ip] = len(c.Neighbors)
		c.Neighbors = append(c.Neighbors, Neighbor{IP: ip, MAC: mac})
	}
	return c, nil
}

// parseAddrPrefix accepts "addr/len" (host bits kept) or a bare address,
// taken as a host prefix. IPv4-mapped IPv6 addresses become IPv4.
func parseAddrPrefix(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		a := p.Addr()
		if a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("%q: zones are not allowed", s)
		}
		if a.Is4In6() {
			bits := p.Bits() - 96
			if bits < 0 {
				return netip.Prefix{}, fmt.Errorf("%q: IPv4-mapped prefix shorter than /96", s)
			}
			return netip.PrefixFrom(a.Unmap(), bits), nil
		}
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is neither an address nor a prefix", s)
	}
	if a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q: zones are not allowed", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}
