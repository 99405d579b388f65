// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package kernelxc_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/nsmesh/nsmesh/sdk/dataplane/kernel/kernelxc"
	"github.com/nsmesh/nsmesh/sdk/internal/netnstest"
	"github.com/nsmesh/nsmesh/sdk/networkservice/mechanisms/wireguard"
	"github.com/nsmesh/nsmesh/sdk/networkservice/xconnect"
)

// BenchmarkProgram measures the data-plane share of a connection's life:
// the first Program (create and configure), a refresh (adopt, nothing to
// change) and Unprogram, reported as create-ms, refresh-ms and delete-ms per
// connection. One connection exists at a time, as workload namespaces
// normally hold one or two interfaces.
//
//	go test -run - -bench Program -benchtime 100x ./sdk/dataplane/kernel/kernelxc/
func BenchmarkProgram(b *testing.B) {
	netnstest.RequireRoot(b)
	for _, kind := range []string{"veth", "vxlan", "wireguard"} {
		b.Run(kind, func(b *testing.B) {
			n := netnstest.NewTwoNodes(b, "b"+kind[:2], netip.MustParsePrefix("10.216.0.1/24"), netip.MustParsePrefix("10.216.0.2/24"))
			keys := keyring{}
			dp, err := kernelxc.New(owner(b, "bench-"+kind), kernelxc.WithHostNetNS(n.NodeA.NetNS), kernelxc.WithWireGuard(keys))
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			p := newPair("bench", kernelMech("file://"+n.WA.Path(), "nsm-b"), kernelMech("file://"+n.WB.Path(), "srv-b"), p2pContext(0), "IP")
			switch kind {
			case "vxlan":
				p = newPair("bench", kernelMech("file://"+n.WA.Path(), "nsm-b"), vxlanMech(n.IPA, n.IPB, 1000), p2pContext(0), "IP")
			case "wireguard":
				_, peer, _ := wireguard.GenerateKey()
				p = newPair("bench", kernelMech("file://"+n.WA.Path(), "nsm-b"), wgMech(n.IPA, n.IPB, 51900, 51901, keys.add(b), peer), p2pContext(0), "IP")
			}
			var create, refresh, del time.Duration
			step := func(sum *time.Duration, f func(context.Context, *xconnect.Pair) error) {
				start := time.Now()
				if err := f(ctx, p); err != nil {
					b.Fatal(err)
				}
				*sum += time.Since(start)
			}
			b.ResetTimer()
			for range b.N {
				step(&create, dp.Program)
				step(&refresh, dp.Program)
				step(&del, dp.Unprogram)
			}
			ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / float64(b.N) }
			b.ReportMetric(ms(create), "create-ms")
			b.ReportMetric(ms(refresh), "refresh-ms")
			b.ReportMetric(ms(del), "delete-ms")
		})
	}
}
