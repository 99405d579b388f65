// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package netnstest

import (
	"net/netip"
	"sort"
	"testing"
)

// TwoNodes is the remote topology: two node namespaces joined by a veth
// underlay (ul-a in NodeA, ul-b in NodeB), each with a workload namespace.
// All four have lo up.
type TwoNodes struct {
	NodeA, NodeB *NS
	WA, WB       *NS
	// IPA and IPB are the underlay addresses of NodeA and NodeB.
	IPA, IPB netip.Addr
}

// NewTwoNodes builds TwoNodes with namespaces tagged <tag>-na, -nb, -wa and
// -wb and the underlay addresses ipA and ipB.
func NewTwoNodes(tb testing.TB, tag string, ipA, ipB netip.Prefix) TwoNodes {
	tb.Helper()
	n := TwoNodes{
		NodeA: NewUp(tb, tag+"-na"), NodeB: NewUp(tb, tag+"-nb"),
		WA: NewUp(tb, tag+"-wa"), WB: NewUp(tb, tag+"-wb"),
		IPA: ipA.Addr(), IPB: ipB.Addr(),
	}
	Veth(tb, End{NS: n.NodeA.NetNS, Name: "ul-a", Addr: ipA}, End{NS: n.NodeB.NetNS, Name: "ul-b", Addr: ipB})
	return n
}

// Links lists "name kind" of the links in ns other than lo, sorted.
func Links(tb testing.TB, ns *NS) []string {
	tb.Helper()
	list, err := Handle(tb, ns.NetNS).LinkList()
	if err != nil {
		tb.Fatalf("list links in %s: %v", ns.Name, err)
	}
	var out []string
	for _, l := range list {
		if l.Attrs().Name != "lo" {
			out = append(out, l.Attrs().Name+" "+l.Type())
		}
	}
	sort.Strings(out)
	return out
}
