// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package authorize_test

import (
	"testing"
	"time"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/networkservice/authorize"
)

// BenchmarkAuthorize is the cost of the default server policies at the last
// hop of a local path (4 tokens parsed, 1 ES256 verification).
func BenchmarkAuthorize(b *testing.B) {
	h := newHops(b)
	conn := h.path(b, 3, time.Now().Add(time.Hour))
	srv := chain.NewServer(authorize.NewServer())
	ctx := h.peerCtx("fwd")
	req := &networkservice.NetworkServiceRequest{Connection: conn}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := srv.Request(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}
