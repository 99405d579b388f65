// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package app

import (
	"context"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
)

// repeatAfter is how often an unchanged registration failure is logged
// again; the retry element tries every 200 ms.
const repeatAfter = 10 * time.Second

// tries logs failed registration tries, which the registry client's retry
// element only logs at DEBUG: an endpoint waiting for its nsmgr must say so.
// A failure is logged when its message changes, and again every repeatAfter.
type tries struct {
	log    logrus.FieldLogger
	mu     sync.Mutex
	last   string
	lastAt time.Time
}

func (t *tries) failed(what, name string, err error) {
	msg := err.Error()
	t.mu.Lock()
	repeat := msg == t.last && time.Since(t.lastAt) < repeatAfter
	if !repeat {
		t.last, t.lastAt = msg, time.Now()
	}
	t.mu.Unlock()
	if !repeat {
		t.log.WithError(err).Warnf("registering %s %q failed; retrying", what, name)
	}
}

// nsTries reports failed network service registrations.
type nsTries struct {
	chain.NSClientLink
	t *tries
}

func (c *nsTries) Register(ctx context.Context, ns *registry.NetworkService, opts ...grpc.CallOption) (*registry.NetworkService, error) {
	out, err := c.Next().Register(ctx, ns, opts...)
	if err != nil && ctx.Err() == nil {
		c.t.failed("network service", ns.GetName(), err)
	}
	return out, err
}

func (c *nsTries) Find(ctx context.Context, q *registry.NetworkServiceQuery, opts ...grpc.CallOption) (grpc.ServerStreamingClient[registry.NetworkServiceResponse], error) {
	return c.Next().Find(ctx, q, opts...)
}

func (c *nsTries) Unregister(ctx context.Context, ns *registry.NetworkService, opts ...grpc.CallOption) (*emptypb.Empty, error) {
	return c.Next().Unregister(ctx, ns, opts...)
}

// nseTries reports failed endpoint registrations, refreshes included.
type nseTries struct {
	chain.NSEClientLink
	t *tries
}

func (c *nseTries) Register(ctx context.Context, nse *registry.NetworkServiceEndpoint, opts ...grpc.CallOption) (*registry.NetworkServiceEndpoint, error) {
	out, err := c.Next().Register(ctx, nse, opts...)
	if err != nil && ctx.Err() == nil {
		c.t.failed("endpoint", nse.GetName(), err)
	}
	return out, err
}

func (c *nseTries) Find(ctx context.Context, q *registry.NetworkServiceEndpointQuery, opts ...grpc.CallOption) (grpc.ServerStreamingClient[registry.NetworkServiceEndpointResponse], error) {
	return c.Next().Find(ctx, q, opts...)
}

func (c *nseTries) Unregister(ctx context.Context, nse *registry.NetworkServiceEndpoint, opts ...grpc.CallOption) (*emptypb.Empty, error) {
	return c.Next().Unregister(ctx, nse, opts...)
}

var (
	_ registry.NetworkServiceRegistryClient         = (*nsTries)(nil)
	_ registry.NetworkServiceEndpointRegistryClient = (*nseTries)(nil)
)
