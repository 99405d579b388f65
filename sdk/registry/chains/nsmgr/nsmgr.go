// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package nsmgr is the registry side of an nsmgr: the servers its local
// endpoints, forwarders and clients register with and search.
//
// With a central registry (WithRegistryURL):
//
//	NS:  grpcmetadata → updatepath → authorize → [grpcmetadata → connect(registry)]
//	NSE: grpcmetadata → updatepath → authorize → begin → expire → localbypass(nsmgrURL)
//	     → [begin → grpcmetadata → connect(registry)]
//
// Without one the nsmgr keeps everything itself:
//
//	NS:  grpcmetadata → updatepath → authorize → memory
//	NSE: grpcmetadata → updatepath → authorize → begin → expire → localbypass(nsmgrURL) → memory
//
// The bracketed part is a client chain run as a server element
// (adapters.NSEClientToServer). localbypass registers the nsmgr's URL
// upstream and gives local callers the endpoints' real URLs; expire removes an
// endpoint, upstream too, when it stops refreshing. authorize
// (sdk/registry/authorize) lets only the first registrant of a name register
// it again or unregister it (others may register a network service again
// unchanged); WithNSAuthorize / WithNSEAuthorize replace it.
package nsmgr

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/sirupsen/logrus"
	"google.golang.org/grpc"

	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/registry/adapters"
	"github.com/nsmesh/nsmesh/sdk/registry/authorize"
	"github.com/nsmesh/nsmesh/sdk/registry/begin"
	"github.com/nsmesh/nsmesh/sdk/registry/chains"
	"github.com/nsmesh/nsmesh/sdk/registry/connect"
	"github.com/nsmesh/nsmesh/sdk/registry/expire"
	"github.com/nsmesh/nsmesh/sdk/registry/grpcmetadata"
	"github.com/nsmesh/nsmesh/sdk/registry/localbypass"
	memstore "github.com/nsmesh/nsmesh/sdk/registry/memory"
	"github.com/nsmesh/nsmesh/sdk/registry/updatepath"
	"github.com/nsmesh/nsmesh/sdk/token"
	"github.com/nsmesh/nsmesh/sdk/tools/log"
)

// Option configures the nsmgr's registry servers.
type Option func(*options)

type options struct {
	gen          token.Generator
	registryURL  *url.URL
	dialOptions  []grpc.DialOption
	dialTimeout  time.Duration
	expiration   time.Duration
	nsAuthorize  registry.NetworkServiceRegistryServer
	nseAuthorize registry.NetworkServiceEndpointRegistryServer
	nsAuthSet    bool
	nseAuthSet   bool
	nsClient     []registry.NetworkServiceRegistryClient
	nseClient    []registry.NetworkServiceEndpointRegistryClient
	logger       logrus.FieldLogger
}

// WithTokenGenerator sets the generator of the nsmgr's path tokens; without
// one the nsmgr adds empty tokens to the path.
func WithTokenGenerator(gen token.Generator) Option { return func(o *options) { o.gen = gen } }

// WithRegistryURL forwards registrations and queries to the central registry
// at u; without it the nsmgr keeps them in memory.
func WithRegistryURL(u *url.URL) Option { return func(o *options) { o.registryURL = u } }

// WithDialOptions sets the options for dialing the registry; they must
// include transport credentials (and per-RPC token credentials).
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(o *options) { o.dialOptions = append(o.dialOptions, opts...) }
}

// WithDialTimeout bounds how long a call waits for the registry connection
// (connect.DefaultDialTimeout).
func WithDialTimeout(d time.Duration) Option { return func(o *options) { o.dialTimeout = d } }

// WithDefaultExpiration sets how long an endpoint registration lives without a
// refresh (expire.DefaultExpiration, 1 minute).
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

// WithNSClientElements adds elements to the client side of the NS chain,
// before grpcmetadata and the call to the registry (where
// authorize.NewNSClient with policies on the returned path belongs). Without WithRegistryURL there is no
// client side and they are not used.
func WithNSClientElements(elems ...registry.NetworkServiceRegistryClient) Option {
	return func(o *options) { o.nsClient = append(o.nsClient, elems...) }
}

// WithNSEClientElements does for the NSE chain what WithNSClientElements
// does for the NS chain.
func WithNSEClientElements(elems ...registry.NetworkServiceEndpointRegistryClient) Option {
	return func(o *options) { o.nseClient = append(o.nseClient, elems...) }
}

// WithLogger sets the logger.
func WithLogger(l logrus.FieldLogger) Option { return func(o *options) { o.logger = l } }

// NewServer returns the registry servers of the nsmgr reachable at nsmgrURL
// (the URL other nodes and forwarders use to reach it). Timers, watches and
// registry connections end when ctx is done.
func NewServer(ctx context.Context, nsmgrURL *url.URL, opts ...Option) (*chains.Servers, error) {
	o := options{dialTimeout: connect.DefaultDialTimeout, expiration: expire.DefaultExpiration, logger: log.Discard()}
	for _, opt := range opts {
		opt(&o)
	}
	if !o.nsAuthSet {
		o.nsAuthorize = authorize.NewNSServer(authorize.WithLogger(o.logger))
	}
	if !o.nseAuthSet {
		o.nseAuthorize = authorize.NewNSEServer(authorize.WithLogger(o.logger))
	}
	exp, err := expire.NewServer(ctx, expire.WithDefaultExpiration(o.expiration), expire.WithLogger(o.logger))
	if err != nil {
		return nil, fmt.Errorf("nsmgr registry: %w", err)
	}
	bypass, err := localbypass.NewServer(nsmgrURL)
	if err != nil {
		return nil, fmt.Errorf("nsmgr registry: %w", err)
	}

	var nsTail registry.NetworkServiceRegistryServer
	var nseTail registry.NetworkServiceEndpointRegistryServer
	if o.registryURL == nil {
		nsTail = memstore.NewNSServer(ctx)
		nseTail = memstore.NewNSEServer(ctx)
	} else {
		copts := []connect.Option{
			connect.WithURL(o.registryURL),
			connect.WithDialOptions(o.dialOptions...),
			connect.WithDialTimeout(o.dialTimeout),
		}
		nsConnect, err := connect.NewNSClient(ctx, copts...)
		if err != nil {
			return nil, fmt.Errorf("nsmgr registry: %w", err)
		}
		nseConnect, err := connect.NewNSEClient(ctx, copts...)
		if err != nil {
			return nil, fmt.Errorf("nsmgr registry: %w", err)
		}
		nsTail = adapters.NSClientToServer(chain.NewNSClient(
			append(o.nsClient[:len(o.nsClient):len(o.nsClient)], grpcmetadata.NewNSClient(), nsConnect)...,
		))
		nseTail = adapters.NSEClientToServer(chain.NewNSEClient(
			append(append([]registry.NetworkServiceEndpointRegistryClient{begin.NewNSEClient()}, o.nseClient...), grpcmetadata.NewNSEClient(), nseConnect)...,
		))
	}

	return &chains.Servers{
		NS: chain.NewNSServer(
			grpcmetadata.NewNSServer(),
			updatepath.NewNSServer(o.gen),
			o.nsAuthorize,
			nsTail,
		),
		NSE: chain.NewNSEServer(
			grpcmetadata.NewNSEServer(),
			updatepath.NewNSEServer(o.gen),
			o.nseAuthorize,
			begin.NewNSEServer(),
			exp,
			bypass,
			nseTail,
		),
	}, nil
}
