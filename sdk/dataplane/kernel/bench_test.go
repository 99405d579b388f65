// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package kernel_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/nsmesh/nsmesh/sdk/dataplane/kernel"
	"github.com/nsmesh/nsmesh/sdk/internal/netnstest"
)

// BenchmarkLocalVeth measures one local connection's data-plane cost:
// create the pair (and, in the configure variant, apply the context to both
// ends), then delete it.
func BenchmarkLocalVeth(b *testing.B) {
	netnstest.RequireRoot(b)
	ctx := context.Background()
	cns, ens := netnstest.New(b, "bc").NetNS, netnstest.New(b, "be").NetNS
	v := kernel.Veth{Mark: kernel.Mark{Owner: "bench", ConnID: "c"},
		A: kernel.Endpoint{NS: cns, Name: "nsm-b"}, B: kernel.Endpoint{NS: ens, Name: "nsm-b"}, MTU: 1446}
	cc := p2pContext()
	for _, configure := range []bool{false, true} {
		name := "create+delete"
		if configure {
			name = "create+configure+delete"
		}
		b.Run(name, func(b *testing.B) {
			var created, deleted time.Duration
			for b.Loop() {
				start := time.Now()
				if _, err := v.Ensure(ctx, nil); err != nil {
					b.Fatal(err)
				}
				created += time.Since(start)
				if configure {
					if err := kernel.Configure(ctx, nil, cns, "nsm-b", kernel.SideSrc, cc); err != nil {
						b.Fatal(err)
					}
					if err := kernel.Configure(ctx, nil, ens, "nsm-b", kernel.SideDst, cc); err != nil {
						b.Fatal(err)
					}
				}
				start = time.Now()
				if err := v.Delete(ctx, nil); err != nil {
					b.Fatal(err)
				}
				deleted += time.Since(start)
			}
			// Deleting a netdev waits for RCU grace periods in the kernel,
			// so the split shows where the time goes.
			b.ReportMetric(float64(created.Microseconds())/float64(b.N), "create-µs/op")
			b.ReportMetric(float64(deleted.Microseconds())/float64(b.N), "delete-µs/op")
		})
	}
	b.Run("refresh", func(b *testing.B) {
		if _, err := v.Ensure(ctx, nil); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = v.Delete(ctx, nil) })
		for b.Loop() {
			if _, err := v.Ensure(ctx, nil); err != nil {
				b.Fatal(err)
			}
			if err := kernel.Configure(ctx, nil, cns, "nsm-b", kernel.SideSrc, cc); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkVxlan measures creating a vxlan device from a node namespace
// into a workload namespace and deleting it.
func BenchmarkVxlan(b *testing.B) {
	netnstest.RequireRoot(b)
	ctx := context.Background()
	node, w := netnstest.New(b, "bn").NetNS, netnstest.New(b, "bw").NetNS
	v := kernel.Vxlan{Mark: kernel.Mark{Owner: "bench", ConnID: "c"}, Host: node,
		End: kernel.Endpoint{NS: w, Name: "nsm-vx"}, VNI: 9,
		Local: netip.MustParseAddr("10.203.0.1").AsSlice(), Remote: netip.MustParseAddr("10.203.0.2").AsSlice(), MTU: 1450}
	var created, deleted time.Duration
	for b.Loop() {
		start := time.Now()
		if _, err := v.Ensure(ctx, nil); err != nil {
			b.Fatal(err)
		}
		created += time.Since(start)
		start = time.Now()
		if err := v.Delete(ctx, nil); err != nil {
			b.Fatal(err)
		}
		deleted += time.Since(start)
	}
	b.ReportMetric(float64(created.Microseconds())/float64(b.N), "create-µs/op")
	b.ReportMetric(float64(deleted.Microseconds())/float64(b.N), "delete-µs/op")
}

// BenchmarkConfigureCrowded measures configuring one interface in a
// namespace that already holds others, each with an address and a route, as
// an endpoint's namespace holds one interface per client. "change" switches
// the interface between two configurations (addresses, routes and a
// neighbour removed and added on every op); "refresh" re-applies one that is
// already in place (reads only). Neither should grow with the number of
// other interfaces.
func BenchmarkConfigureCrowded(b *testing.B) {
	netnstest.RequireRoot(b)
	ctx := context.Background()
	cfg := func(k int) kernel.InterfaceConfig {
		return kernel.InterfaceConfig{
			Addrs: []netip.Prefix{
				netip.MustParsePrefix(fmt.Sprintf("172.16.%d.1/32", k)),
				netip.MustParsePrefix(fmt.Sprintf("fd00:%d::1/128", k)),
			},
			Routes: []kernel.Route{
				{Dst: netip.MustParsePrefix(fmt.Sprintf("172.16.%d.0/32", k))},
				{Dst: netip.MustParsePrefix(fmt.Sprintf("fd00:%d::/128", k))},
				{Dst: netip.MustParsePrefix(fmt.Sprintf("10.%d.0.0/16", 200+k)),
					Gateway: netip.MustParseAddr(fmt.Sprintf("172.16.%d.0", k))},
			},
			Neighbors: []kernel.Neighbor{{IP: netip.MustParseAddr(fmt.Sprintf("172.16.%d.0", k)),
				MAC: net.HardwareAddr{0x02, 0, 0, 0, 0, byte(k + 1)}}},
			MTU: 1400 + k,
		}
	}
	for _, others := range []int{0, 100, 400} {
		b.Run(fmt.Sprintf("others=%d", others), func(b *testing.B) {
			// The other ends live in a second namespace, as the client ends
			// of an endpoint's interfaces do.
			ns, peers := netnstest.New(b, fmt.Sprintf("bcr%d", others)).NetNS, netnstest.New(b, fmt.Sprintf("bcp%d", others)).NetNS
			h := netnstest.Handle(b, ns)
			for i := range others {
				addConfiguredVeth(b, h, peers, fmt.Sprintf("v%d", i), i)
			}
			if err := h.LinkAdd(vethTo(peers, "nsm-x")); err != nil {
				b.Fatalf("add nsm-x: %v", err)
			}
			b.Run("change", func(b *testing.B) {
				k := 0
				for b.Loop() {
					if err := cfg(k%2).Apply(ctx, nil, ns, "nsm-x"); err != nil {
						b.Fatal(err)
					}
					k++
				}
			})
			b.Run("refresh", func(b *testing.B) {
				c := cfg(0)
				if err := c.Apply(ctx, nil, ns, "nsm-x"); err != nil {
					b.Fatal(err)
				}
				for b.Loop() {
					if err := c.Apply(ctx, nil, ns, "nsm-x"); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// vethTo returns a veth called name whose peer, of the same name, is created
// in peers.
func vethTo(peers *kernel.NetNS, name string) *netlink.Veth {
	return &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: name,
		PeerNamespace: netlink.NsFd(peers.Fd())}
}

// addConfiguredVeth adds a veth (peer in peers) that is up, with an IPv4
// address and a host route of kernel.RouteProtocol, like an interface Apply
// configured.
func addConfiguredVeth(tb testing.TB, h *netlink.Handle, peers *kernel.NetNS, name string, i int) {
	tb.Helper()
	l := vethTo(peers, name)
	if err := h.LinkAdd(l); err != nil {
		tb.Fatalf("add %s: %v", name, err)
	}
	if err := h.LinkSetUp(l); err != nil {
		tb.Fatalf("set %s up: %v", name, err)
	}
	local := netip.AddrFrom4([4]byte{10, 100, byte(i / 128), byte(i%128*2 + 1)})
	peer := local.Prev()
	if err := h.AddrAdd(l, &netlink.Addr{IPNet: &net.IPNet{IP: local.AsSlice(), Mask: net.CIDRMask(32, 32)}}); err != nil {
		tb.Fatalf("address on %s: %v", name, err)
	}
	if err := h.RouteAdd(&netlink.Route{LinkIndex: l.Attrs().Index, Scope: netlink.SCOPE_LINK,
		Protocol: kernel.RouteProtocol, Dst: &net.IPNet{IP: peer.AsSlice(), Mask: net.CIDRMask(32, 32)}}); err != nil {
		tb.Fatalf("route on %s: %v", name, err)
	}
}
