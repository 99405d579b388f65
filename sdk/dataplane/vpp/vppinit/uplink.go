// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package vppinit

import (
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Neighbour is a kernel neighbour entry of the uplink.
type Neighbour struct {
	IP  net.IP
	MAC net.HardwareAddr
}

// Route is a kernel route through the uplink. Gw is nil for a route
// straight onto the link (no next hop).
type Route struct {
	Dst *net.IPNet
	Gw  net.IP
}

// Uplink is what Init copies from the kernel into VPP: the link and the
// part of its configuration of the tunnel address's family.
type Uplink struct {
	// Name is the kernel link name; VPP's af_packet interface becomes
	// host-<Name>.
	Name string
	MAC  net.HardwareAddr
	MTU  int
	// Addr is the tunnel address with the prefix length it has on the link.
	Addr       *net.IPNet
	Neighbours []Neighbour
	Routes     []Route
}

// Discover finds the uplink in the namespace of h: the link holding
// tunnelIP, or, when tunnelIP is nil, the link of the default route (IPv4
// first, then IPv6) and its first global unicast address of that family.
func Discover(h *netlink.Handle, tunnelIP net.IP) (*Uplink, error) {
	link, addr, err := findLink(h, tunnelIP)
	if err != nil {
		return nil, err
	}
	a := link.Attrs()
	if a.EncapType != "ether" || len(a.HardwareAddr) != 6 {
		return nil, fmt.Errorf("vppinit: uplink %s: %w (type %s, hardware address %q)", a.Name, ErrNotEthernet, a.EncapType, a.HardwareAddr)
	}
	up := &Uplink{Name: a.Name, MAC: a.HardwareAddr, MTU: a.MTU, Addr: addr}
	family := familyOf(addr.IP)
	neighs, err := h.NeighList(a.Index, family)
	if err != nil {
		return nil, fmt.Errorf("vppinit: neighbours of %s: %w", a.Name, err)
	}
	for _, n := range neighs {
		if n.State&usableNeigh == 0 || len(n.HardwareAddr) != 6 || n.IP == nil || n.IP.IsMulticast() {
			continue
		}
		up.Neighbours = append(up.Neighbours, Neighbour{IP: n.IP, MAC: n.HardwareAddr})
	}
	routes, err := h.RouteListFiltered(family, &netlink.Route{LinkIndex: a.Index, Table: unix.RT_TABLE_MAIN},
		netlink.RT_FILTER_OIF|netlink.RT_FILTER_TABLE)
	if err != nil {
		return nil, fmt.Errorf("vppinit: routes of %s: %w", a.Name, err)
	}
	for _, r := range routes {
		// Connected prefixes (proto kernel) come with the address in VPP.
		if r.Type != unix.RTN_UNICAST || r.Protocol == unix.RTPROT_KERNEL || len(r.MultiPath) > 0 {
			continue
		}
		dst := r.Dst
		if dst == nil {
			dst = anyNet(addr.IP)
		}
		up.Routes = append(up.Routes, Route{Dst: dst, Gw: r.Gw})
	}
	return up, nil
}

// usableNeigh are the states whose MAC address is known.
const usableNeigh = netlink.NUD_REACHABLE | netlink.NUD_PERMANENT | netlink.NUD_STALE | netlink.NUD_DELAY | netlink.NUD_PROBE

func findLink(h *netlink.Handle, tunnelIP net.IP) (netlink.Link, *net.IPNet, error) {
	if tunnelIP != nil {
		addrs, err := h.AddrList(nil, familyOf(tunnelIP))
		if err != nil {
			return nil, nil, fmt.Errorf("vppinit: addresses: %w", err)
		}
		for _, a := range addrs {
			if a.IP.Equal(tunnelIP) {
				l, err := h.LinkByIndex(a.LinkIndex)
				if err != nil {
					return nil, nil, fmt.Errorf("vppinit: link of %s: %w", tunnelIP, err)
				}
				return l, a.IPNet, nil
			}
		}
		return nil, nil, fmt.Errorf("vppinit: NSM_TUNNEL_IP %s: %w", tunnelIP, ErrNoUplink)
	}
	var errs []error
	for _, family := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		routes, err := h.RouteListFiltered(family, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
		if err != nil {
			return nil, nil, fmt.Errorf("vppinit: routes: %w", err)
		}
		for _, r := range routes {
			if (r.Dst != nil && !isDefault(r.Dst)) || r.LinkIndex == 0 {
				continue
			}
			l, err := h.LinkByIndex(r.LinkIndex)
			if err != nil {
				return nil, nil, fmt.Errorf("vppinit: link of the default route: %w", err)
			}
			addrs, err := h.AddrList(l, family)
			if err != nil {
				return nil, nil, fmt.Errorf("vppinit: addresses of %s: %w", l.Attrs().Name, err)
			}
			for _, a := range addrs {
				if a.IP.IsGlobalUnicast() {
					return l, a.IPNet, nil
				}
			}
			errs = append(errs, fmt.Errorf("default-route link %s has no global unicast address of its family", l.Attrs().Name))
		}
	}
	if len(errs) > 0 {
		return nil, nil, fmt.Errorf("vppinit: NSM_TUNNEL_IP empty: %w: %w", ErrNoUplink, errors.Join(errs...))
	}
	return nil, nil, fmt.Errorf("vppinit: NSM_TUNNEL_IP empty and no default route: %w", ErrNoUplink)
}

func familyOf(ip net.IP) int {
	if ip.To4() != nil {
		return netlink.FAMILY_V4
	}
	return netlink.FAMILY_V6
}

func isDefault(n *net.IPNet) bool {
	ones, _ := n.Mask.Size()
	return ones == 0 && n.IP.IsUnspecified()
}

func anyNet(ip net.IP) *net.IPNet {
	if ip.To4() != nil {
		return &net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}
	}
	return &net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)}
}
