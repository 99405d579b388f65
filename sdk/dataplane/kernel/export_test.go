// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package kernel

import "github.com/vishvananda/netlink"

// SetFilteredDumps turns kernel-filtered dumps on or off for the process, as
// a kernel without strict checking would, and returns a function that
// restores the previous setting.
func SetFilteredDumps(on bool) (restore func()) {
	old := filteredDumps.Swap(on)
	return func() { filteredDumps.Store(old) }
}

// ReadLikeApply reads the addresses, routes and neighbours of the interface
// called name in ns the way Apply does. It reports whether the kernel was
// asked to filter (and accepted) and how many entries of other interfaces
// it sent.
func ReadLikeApply(ns *NetNS, name string) (filtered bool, foreign int, err error) {
	c, err := ns.openLinkConn()
	if err != nil {
		return false, 0, err
	}
	defer c.Close()
	l, err := c.h.LinkByName(name)
	if err != nil {
		return false, 0, err
	}
	if _, err := c.addrs(l, netlink.FAMILY_ALL); err != nil {
		return false, 0, err
	}
	if _, err := c.routes(l.Attrs().Index, RouteProtocol); err != nil {
		return false, 0, err
	}
	if _, err := c.neighbors(l.Attrs().Index); err != nil {
		return false, 0, err
	}
	return c.strict, c.foreign, nil
}
