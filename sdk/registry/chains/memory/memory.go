// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package memory is the registry server with the in-memory store, as
// cmd-registry runs it.
//
//	NS:  grpcmetadata → updatepath → authorize → payload default → memory
//	NSE: grpcmetadata → updatepath → authorize → begin → registration time → expire → memory
//
// authorize (sdk/registry/authorize) lets only the first registrant of a
// name register it again or unregister it (others may register a network
// service again unchanged); WithNSAuthorize / WithNSEAuthorize replace it
// (e.g. to add Rego policies). Network services do not expire; endpoints
// expire after WithDefaultExpiration (1 minute) unless refreshed, which
// frees their names.
package memory

import (
	"context"
	"fmt"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/registry/authorize"
	"github.com/nsmesh/nsmesh/sdk/registry/begin"
	"github.com/nsmesh/nsmesh/sdk/registry/chains"
	"github.com/nsmesh/nsmesh/sdk/registry/defaults"
	"github.com/nsmesh/nsmesh/sdk/registry/expire"
	"github.com/nsmesh/nsmesh/sdk/registry/grpcmetadata"
	memstore "github.com/nsmesh/nsmesh/sdk/registry/memory"
	"github.com/nsmesh/nsmesh/sdk/registry/updatepath"
	"github.com/nsmesh/nsmesh/sdk/token"
	"github.com/nsmesh/nsmesh/sdk/tools/log"
)

// Option configures the memory registry.
type Option func(*options)

type options struct {
	gen          token.Generator
	expiration   time.Duration
	nsAuthorize  registry.NetworkServiceRegistryServer
	nseAuthorize registry.NetworkServiceEndpointRegistryServer
	nsAuthSet    bool
	nseAuthSet   bool
	watchBuffer  int
	logger       logrus.FieldLogger
}

// WithTokenGenerator sets the generator of the registry's path tokens; without
// one the registry adds empty tokens to the path.
func WithTokenGenerator(gen token.Generator) Option { return func(o *options) { o.gen = gen } }

// WithDefaultExpiration sets how long an endpoint registration lives without
// a refresh (expire.DefaultExpiration, 1 minute).
func WithDefaultExpiration(d time.Duration) Option { return func(o *options) { o.expiration = d } }

// WithNSAuthorize replaces the policy element after updatepath in the NS
// chain (default: authorize.NewNSServer(), first registrant owns a name);
// nil leaves it out.
func WithNSAuthorize(s registry.NetworkServiceRegistryServer) Option {
	return func(o *options) { o.nsAuthorize, o.nsAuthSet = s, true }
}

// WithNSEAuthorize replaces the policy element after updatepath in the NSE
// chain (default: authorize.NewNSEServer(), first registrant owns a name);
// nil leaves it out.
func WithNSEAuthorize(s registry.NetworkServiceEndpointRegistryServer) Option {
	return func(o *options) { o.nseAuthorize, o.nseAuthSet = s, true }
}

// WithWatchBuffer sets how many updates a watcher may lag behind
// (memory.DefaultWatchBuffer).
func WithWatchBuffer(n int) Option { return func(o *options) { o.watchBuffer = n } }

// WithLogger sets the logger.
func WithLogger(l logrus.FieldLogger) Option { return func(o *options) { o.logger = l } }

// NewServer returns the registry's NS and NSE servers. Expiry timers and open
// watches end when ctx is done.
func NewServer(ctx context.Context, opts ...Option) (*chains.Servers, error) {
	o := options{expiration: expire.DefaultExpiration, watchBuffer: memstore.DefaultWatchBuffer, logger: log.Discard()}
	for _, opt := range opts {
		opt(&o)
	}
	if !o.nsAuthSet {
		o.nsAuthorize = authorize.NewNSServer(authorize.WithLogger(o.logger))
	}
	if !o.nseAuthSet {
		o.nseAuthorize = authorize.NewNSEServer(authorize.WithLogger(o.logger))
	}
	if o.watchBuffer <= 0 {
		return nil, fmt.Errorf("memory registry: watch buffer %d must be positive", o.watchBuffer)
	}
	exp, err := expire.NewServer(ctx, expire.WithDefaultExpiration(o.expiration), expire.WithLogger(o.logger))
	if err != nil {
		return nil, fmt.Errorf("memory registry: %w", err)
	}
	return &chains.Servers{
		NS: chain.NewNSServer(
			grpcmetadata.NewNSServer(),
			updatepath.NewNSServer(o.gen),
			o.nsAuthorize,
			defaults.NewPayloadServer(""),
			memstore.NewNSServer(ctx, memstore.WithWatchBuffer(o.watchBuffer)),
		),
		NSE: chain.NewNSEServer(
			grpcmetadata.NewNSEServer(),
			updatepath.NewNSEServer(o.gen),
			o.nseAuthorize,
			begin.NewNSEServer(),
			defaults.NewRegistrationTimeServer(nil),
			exp,
			memstore.NewNSEServer(ctx, memstore.WithWatchBuffer(o.watchBuffer)),
		),
	}, nil
}
