// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package app

import (
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
)

// DefaultRouteIP returns the address remote nodes most likely reach this one
// on: the preferred source of the IPv4 default route (IPv6 when there is no
// IPv4 one), else the first global address of that route's interface.
// h is a netlink handle in the forwarder's namespace.
func DefaultRouteIP(h *netlink.Handle) (net.IP, error) {
	for _, family := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		routes, err := h.RouteList(nil, family)
		if err != nil {
			return nil, fmt.Errorf("app: list routes: %w", err)
		}
		for _, r := range routes {
			if !isDefault(r) || r.LinkIndex == 0 {
				continue
			}
			if r.Src != nil && r.Src.IsGlobalUnicast() {
				return r.Src, nil
			}
			l, err := h.LinkByIndex(r.LinkIndex)
			if err != nil {
				continue
			}
			addrs, err := h.AddrList(l, family)
			if err != nil {
				continue
			}
			for _, a := range addrs {
				if a.IP.IsGlobalUnicast() {
					return a.IP, nil
				}
			}
		}
	}
	return nil, errors.New("app: no default route with a global address; set NSM_TUNNEL_IP")
}

func isDefault(r netlink.Route) bool {
	if r.Dst == nil {
		return true
	}
	ones, _ := r.Dst.Mask.Size()
	return ones == 0
}
