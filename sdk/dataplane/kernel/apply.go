// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package kernel

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/nsmesh/nsmesh/apis/networkservice"
)

// RouteProtocol is the rtm_protocol of every route Apply installs. It lets
// Apply find and remove its own stale routes without touching routes that
// the kernel or anybody else put on the same interface. The value is not
// assigned in /etc/iproute2/rt_protos.
const RouteProtocol netlink.RouteProtocol = 110

// addrWaitCap bounds the wait for IPv6 addresses to become usable when the
// context has no deadline.
const addrWaitCap = 5 * time.Second

// Configure applies the connection context to the interface called name in
// ns, for the given side. See ConfigFromContext and InterfaceConfig.Apply.
func Configure(ctx context.Context, log logrus.FieldLogger, ns *NetNS, name string, side Side,
	cc *networkservice.ConnectionContext) error {
	c, err := ConfigFromContext(cc, side)
	if err != nil {
		return err
	}
	log = logger(log).WithField("side", side.String())
	if c.IgnoredPolicies > 0 {
		log.WithField("policies", c.IgnoredPolicies).Warn("kernel: ip_context.policies are not applied (policy routing is not implemented)")
	}
	return c.Apply(ctx, log, ns, name)
}

// Apply makes the interface called name in ns match c, changing only what
// differs, so it is cheap to repeat on every refresh:
//   - MTU (when c.MTU is set) and up state;
//   - global-scope addresses: missing ones are added (IPv6 without DAD, and
//     Apply returns only once they are usable), others are removed;
//     link-local addresses are left alone;
//   - routes: installed with RouteProtocol in the main table, on-link when
//     they have a gateway; routes of RouteProtocol on the interface that c
//     no longer lists are removed. Note that a route whose destination is
//     already routed elsewhere in the main table (for example a default
//     route) is replaced, as upstream NSM does;
//   - permanent neighbours: set as listed, other permanent entries removed.
//
// The interface need not have been created by this package. Deleting the
// interface removes everything Apply added. Reading the interface's state
// costs the same however many other interfaces ns holds wherever the kernel
// filters dumps by interface (Linux 4.20 and later; see the package
// documentation).
func (c InterfaceConfig) Apply(ctx context.Context, log logrus.FieldLogger, ns *NetNS, name string) error {
	start := time.Now()
	wrap := func(err error) error { return fmt.Errorf("kernel: configure %s/%s: %w", ns, name, err) }
	if err := ctx.Err(); err != nil {
		return wrap(err)
	}
	log = logger(log).WithFields(logrus.Fields{"netns": ns.String(), "if": name})
	conn, err := ns.openLinkConn()
	if err != nil {
		return wrap(err)
	}
	defer conn.Close()
	h := conn.h
	// A lookup by name, not a dump: it costs the same however many links
	// the namespace holds.
	l, err := h.LinkByName(name)
	if err != nil {
		return wrap(err)
	}
	a := &applier{h: h, conn: conn, ns: ns, link: l}
	if c.MTU > 0 && l.Attrs().MTU != c.MTU {
		if err := h.LinkSetMTU(l, c.MTU); err != nil {
			return wrap(fmt.Errorf("set mtu %d: %w", c.MTU, err))
		}
		a.changes++
	}
	if l.Attrs().Flags&net.FlagUp == 0 {
		if err := h.LinkSetUp(l); err != nil {
			return wrap(fmt.Errorf("set up: %w", err))
		}
		a.changes++
	}
	for _, step := range []func() error{
		func() error { return a.addrs(ctx, c.Addrs) },
		func() error { return a.routes(c.Routes) },
		func() error { return a.neighbors(c.Neighbors) },
	} {
		if err := step(); err != nil {
			return wrap(err)
		}
	}
	entry := log.WithFields(logrus.Fields{"addrs": c.Addrs, "routes": len(c.Routes), "neighbors": len(c.Neighbors),
		"mtu": c.MTU, "changes": a.changes, "filtered_dumps": conn.strict, "duration": time.Since(start)})
	if a.changes > 0 {
		entry.Info("kernel: configured interface")
	} else {
		entry.Debug("kernel: interface already configured")
	}
	return nil
}

type applier struct {
	h       *netlink.Handle
	conn    *linkConn // reads: see linkConn
	ns      *NetNS
	link    netlink.Link
	changes int
}

func (a *applier) addrs(ctx context.Context, want []netip.Prefix) error {
	cur, err := a.conn.addrs(a.link, netlink.FAMILY_ALL)
	if err != nil {
		return fmt.Errorf("list addresses: %w", err)
	}
	wantSet := make(map[netip.Prefix]bool, len(want))
	for _, p := range want {
		wantSet[p] = true
	}
	have := make(map[netip.Prefix]bool)
	// Stale addresses go first: deleting an IPv4 primary address also
	// deletes its secondaries, which could include a wanted one added before.
	for _, addr := range cur {
		if addr.Scope != unix.RT_SCOPE_UNIVERSE {
			continue
		}
		p, ok := prefixOf(addr.IPNet)
		if !ok {
			continue
		}
		if wantSet[p] {
			have[p] = true
			continue
		}
		if err := a.h.AddrDel(a.link, &addr); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
			return fmt.Errorf("delete stale address %s: %w", p, err)
		}
		a.changes++
	}
	var pending []netip.Prefix
	for _, p := range want {
		if have[p] {
			continue
		}
		if err := a.addAddr(p); err != nil {
			return err
		}
		a.changes++
		if p.Addr().Is6() {
			pending = append(pending, p)
		}
	}
	if len(pending) == 0 {
		return nil
	}
	return a.waitUsable(ctx, pending)
}

func (a *applier) addAddr(p netip.Prefix) error {
	addr := &netlink.Addr{IPNet: ipNet(p), Flags: unix.IFA_F_PERMANENT}
	if p.Addr().Is6() {
		// DAD would hold the address back for a second or more; the mesh
		// already guarantees uniqueness on a point-to-point link.
		addr.Flags |= unix.IFA_F_NODAD
	}
	err := a.h.AddrReplace(a.link, addr)
	if errors.Is(err, unix.EACCES) && p.Addr().Is6() {
		// IPv6 is disabled on this interface (disable_ipv6=1, inherited
		// from the namespace defaults): enable it, as the context asks for
		// an IPv6 address, and retry.
		if err = a.enableIPv6(); err == nil {
			err = a.h.AddrReplace(a.link, addr)
		}
	}
	if err != nil {
		return fmt.Errorf("add address %s: %w", p, err)
	}
	return nil
}

func (a *applier) enableIPv6() error {
	name := a.link.Attrs().Name
	return a.ns.Do(func() error {
		p := filepath.Join("/proc/sys/net/ipv6/conf", name, "disable_ipv6")
		if err := os.WriteFile(p, []byte("0"), 0); err != nil {
			return fmt.Errorf("enable ipv6: %w", err)
		}
		return nil
	})
}

// waitUsable returns once every pending IPv6 address is neither tentative
// nor failed, so that traffic can use it as soon as the caller returns.
func (a *applier) waitUsable(ctx context.Context, pending []netip.Prefix) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, addrWaitCap)
		defer cancel()
	}
	for {
		cur, err := a.conn.addrs(a.link, netlink.FAMILY_V6)
		if err != nil {
			return fmt.Errorf("list addresses: %w", err)
		}
		flags := make(map[netip.Prefix]int, len(cur))
		for _, addr := range cur {
			if p, ok := prefixOf(addr.IPNet); ok {
				flags[p] = addr.Flags
			}
		}
		ready := true
		for _, p := range pending {
			f, ok := flags[p]
			if ok && f&unix.IFA_F_DADFAILED != 0 {
				return fmt.Errorf("address %s failed duplicate address detection", p)
			}
			if !ok || f&unix.IFA_F_TENTATIVE != 0 {
				ready = false
			}
		}
		if ready {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for addresses %v to become usable: %w", pending, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (a *applier) routes(want []Route) error {
	idx := a.link.Attrs().Index
	cur, err := a.conn.routes(idx, RouteProtocol)
	if err != nil {
		return fmt.Errorf("list routes: %w", err)
	}
	have := make(map[netip.Prefix]netlink.Route, len(cur))
	for _, r := range cur {
		if p, ok := routeDst(r); ok {
			have[p] = r
		}
	}
	wantSet := make(map[netip.Prefix]bool, len(want))
	for _, r := range want {
		wantSet[r.Dst] = true
		if old, ok := have[r.Dst]; ok && sameGateway(old, r) {
			continue
		}
		nr := r.netlinkRoute(idx)
		if err := a.h.RouteReplace(nr); err != nil {
			return fmt.Errorf("replace route %s via %v: %w", r.Dst, r.Gateway, err)
		}
		a.changes++
	}
	for p, r := range have {
		if wantSet[p] {
			continue
		}
		if err := a.h.RouteDel(&r); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("delete stale route %s: %w", p, err)
		}
		a.changes++
	}
	return nil
}

func (r Route) netlinkRoute(linkIndex int) *netlink.Route {
	nr := &netlink.Route{
		LinkIndex: linkIndex,
		Dst:       ipNet(r.Dst),
		Protocol:  RouteProtocol,
		Table:     unix.RT_TABLE_MAIN,
		Family:    family(r.Dst.Addr()),
	}
	switch {
	case r.Gateway.IsValid():
		// On-link: with /32 or /128 addresses the gateway is in no
		// connected subnet, yet it is right behind this interface.
		nr.Gw = r.Gateway.AsSlice()
		nr.Flags = int(netlink.FLAG_ONLINK)
	case r.Dst.Addr().Is4():
		nr.Scope = netlink.SCOPE_LINK
	}
	return nr
}

func sameGateway(old netlink.Route, r Route) bool {
	if !r.Gateway.IsValid() {
		return old.Gw == nil
	}
	gw, ok := netip.AddrFromSlice(old.Gw)
	return ok && gw.Unmap() == r.Gateway && old.Flags&int(netlink.FLAG_ONLINK) != 0
}

func (a *applier) neighbors(want []Neighbor) error {
	idx := a.link.Attrs().Index
	cur, err := a.conn.neighbors(idx)
	if err != nil {
		return fmt.Errorf("list neighbours: %w", err)
	}
	have := make(map[netip.Addr]netlink.Neigh)
	for _, n := range cur {
		if n.State&netlink.NUD_PERMANENT == 0 {
			continue
		}
		if ip, ok := netip.AddrFromSlice(n.IP); ok {
			have[ip.Unmap()] = n
		}
	}
	wantSet := make(map[netip.Addr]bool, len(want))
	for _, n := range want {
		wantSet[n.IP] = true
		if old, ok := have[n.IP]; ok && old.HardwareAddr.String() == n.MAC.String() {
			continue
		}
		if err := a.h.NeighSet(&netlink.Neigh{
			LinkIndex:    idx,
			Family:       family(n.IP),
			State:        netlink.NUD_PERMANENT,
			IP:           n.IP.AsSlice(),
			HardwareAddr: n.MAC,
		}); err != nil {
			return fmt.Errorf("set neighbour %s %s: %w", n.IP, n.MAC, err)
		}
		a.changes++
	}
	for ip, n := range have {
		if wantSet[ip] {
			continue
		}
		if err := a.h.NeighDel(&n); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("delete stale neighbour %s: %w", ip, err)
		}
		a.changes++
	}
	return nil
}

func family(a netip.Addr) int {
	if a.Is4() {
		return netlink.FAMILY_V4
	}
	return netlink.FAMILY_V6
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	ones, bits := n.Mask.Size()
	if bits == 0 {
		return netip.Prefix{}, false
	}
	if a.Is4() && bits == 128 {
		ones -= 96
	}
	return netip.PrefixFrom(a, ones), true
}

// routeDst returns the destination of r, treating a missing Dst as the
// default route of r's family.
func routeDst(r netlink.Route) (netip.Prefix, bool) {
	if r.Dst != nil {
		p, ok := prefixOf(r.Dst)
		return p.Masked(), ok
	}
	switch r.Family {
	case netlink.FAMILY_V4:
		return netip.PrefixFrom(netip.IPv4Unspecified(), 0), true
	case netlink.FAMILY_V6:
		return netip.PrefixFrom(netip.IPv6Unspecified(), 0), true
	}
	return netip.Prefix{}, false
}
