// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package kernel_test

import (
	"crypto/rand"
	"net/netip"
	"sort"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/nsmesh/nsmesh/sdk/dataplane/kernel"
	"github.com/nsmesh/nsmesh/sdk/internal/netnstest"
)

// linkNames lists the links in ns except lo, sorted.
func linkNames(tb testing.TB, ns *kernel.NetNS) []string {
	tb.Helper()
	links, err := netnstest.Handle(tb, ns).LinkList()
	if err != nil {
		tb.Fatalf("list links: %v", err)
	}
	var names []string
	for _, l := range links {
		if l.Attrs().Name != "lo" {
			names = append(names, l.Attrs().Name)
		}
	}
	sort.Strings(names)
	return names
}

// addrs lists the global addresses on name in ns.
func addrs(tb testing.TB, ns *kernel.NetNS, name string) []string {
	tb.Helper()
	h := netnstest.Handle(tb, ns)
	l, err := h.LinkByName(name)
	if err != nil {
		tb.Fatalf("link %s: %v", name, err)
	}
	list, err := h.AddrList(l, netlink.FAMILY_ALL)
	if err != nil {
		tb.Fatalf("addresses of %s: %v", name, err)
	}
	var out []string
	for _, a := range list {
		if a.Scope == 0 {
			out = append(out, a.IPNet.String())
		}
	}
	sort.Strings(out)
	return out
}

// routes lists "dst via gw" of the kernel package's routes on name in ns.
func routes(tb testing.TB, ns *kernel.NetNS, name string) []string {
	tb.Helper()
	h := netnstest.Handle(tb, ns)
	l, err := h.LinkByName(name)
	if err != nil {
		tb.Fatalf("link %s: %v", name, err)
	}
	list, err := h.RouteListFiltered(netlink.FAMILY_ALL,
		&netlink.Route{LinkIndex: l.Attrs().Index, Protocol: kernel.RouteProtocol},
		netlink.RT_FILTER_OIF|netlink.RT_FILTER_PROTOCOL)
	if err != nil {
		tb.Fatalf("routes of %s: %v", name, err)
	}
	var out []string
	for _, r := range list {
		s := r.Dst.String()
		if r.Gw != nil {
			s += " via " + r.Gw.String()
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// randomData returns n random bytes.
func randomData(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func mustAddr(s string) netip.Addr { return netip.MustParsePrefix(s).Addr() }
