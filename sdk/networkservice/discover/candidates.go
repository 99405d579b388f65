// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package discover

import (
	"context"

	"github.com/nsmesh/nsmesh/apis/registry"
)

// Candidates is what discover found for one Request: the network service and
// the endpoints that may serve it, in preference order.
type Candidates struct {
	NetworkService *registry.NetworkService
	Endpoints      []*registry.NetworkServiceEndpoint
}

type candidatesKey struct{}

// WithCandidates returns ctx carrying c for the selection element after
// discover.
func WithCandidates(ctx context.Context, c *Candidates) context.Context {
	return context.WithValue(ctx, candidatesKey{}, c)
}

// CandidatesFromContext returns the candidates carried by ctx, or nil.
func CandidatesFromContext(ctx context.Context) *Candidates {
	c, _ := ctx.Value(candidatesKey{}).(*Candidates)
	return c
}
