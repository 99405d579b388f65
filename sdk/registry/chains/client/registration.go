// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package client

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nsmesh/nsmesh/apis/registry"
)

// CloseTimeout bounds the Unregister of Registration.Close.
const CloseTimeout = 5 * time.Second

// Registration is an endpoint registration made with RegisterNSE.
type Registration struct {
	c    registry.NetworkServiceEndpointRegistryClient
	nse  *registry.NetworkServiceEndpoint
	once sync.Once
	err  error
}

// RegisterNSE registers nse through c (normally from NewNSEClient, which keeps
// it alive) and returns the registration.
func RegisterNSE(ctx context.Context, c registry.NetworkServiceEndpointRegistryClient, nse *registry.NetworkServiceEndpoint) (*Registration, error) {
	resp, err := c.Register(ctx, nse)
	if err != nil {
		return nil, fmt.Errorf("registry client: register %q: %w", nse.GetName(), err)
	}
	return &Registration{c: c, nse: resp}, nil
}

// NSE returns the endpoint as the registry answered the first Register (with
// its expiration_time and path_ids).
func (r *Registration) NSE() *registry.NetworkServiceEndpoint { return r.nse }

// Close unregisters the endpoint, waiting at most CloseTimeout. It works after
// the client's context is done and only once; later calls return the first
// result.
func (r *Registration) Close() error {
	r.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), CloseTimeout)
		defer cancel()
		if _, err := r.c.Unregister(ctx, r.nse); err != nil {
			r.err = fmt.Errorf("registry client: unregister %q: %w", r.nse.GetName(), err)
		}
	})
	return r.err
}
