// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package kernel_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/nsmesh/nsmesh/sdk/dataplane/kernel"
)

// BenchmarkLocalVeth measures one local connection's data-plane cost:
// create the pair (and, in the configure variant, apply the context to both
// ends), then delete it.
func BenchmarkLocalVeth(b *testing.B) {
	requireRoot(b)
	ctx := context.Background()
	cns, ens := newNS(b, "bc"), newNS(b, "be")
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
	requireRoot(b)
	ctx := context.Background()
	node, w := newNS(b, "bn"), newNS(b, "bw")
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
