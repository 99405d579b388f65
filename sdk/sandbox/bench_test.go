// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package sandbox_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/sandbox"
)

// BenchmarkRequestClose measures one Request and its Close through the whole
// mesh on real gRPC: 4 hops locally, 6 across two nodes, in plaintext and
// over mTLS. Each hop dials its next hop per connection, so with mTLS every
// iteration includes a TLS handshake per hop, besides the TLS records and
// the token signatures the policies then verify against certificates.
func BenchmarkRequestClose(b *testing.B) {
	for _, m := range modes {
		for _, nodes := range []int{1, 2} {
			name := map[int]string{1: "local", 2: "remote"}[nodes]
			b.Run(m.name+"/"+name, func(b *testing.B) {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				d := sandbox.New(ctx, b, append([]sandbox.Option{sandbox.WithNodes(nodes)}, m.opts...)...)
				last := d.Nodes[nodes-1]
				if err := last.RegisterService(ctx, &registry.NetworkService{Name: "red"}); err != nil {
					b.Fatal(err)
				}
				if _, err := last.NewEndpoint(ctx, &registry.NetworkServiceEndpoint{Name: "nse", NetworkServiceNames: []string{"red"}}); err != nil {
					b.Fatal(err)
				}
				nsc, err := d.Nodes[0].NewClient(ctx, "nsc")
				if err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; b.Loop(); i++ {
					conn, err := nsc.Request(ctx, request("red"))
					if err != nil {
						b.Fatal(fmt.Errorf("request %d: %w", i, err))
					}
					if _, err := nsc.Close(ctx, conn); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
