// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package client builds the registry clients of endpoints, forwarders and
// anything else that registers or searches.
//
//	NSE: begin → retry → heal → refresh → [additional] → grpcmetadata → connect(URL)
//	NS:  begin → retry → heal → [additional] → grpcmetadata → connect(URL)
//
// connect dials WithURL (or the client URL of the context) and makes the
// call. Endpoint registrations are refreshed before they expire and
// registered again when the registry loses them, until they are unregistered
// or the constructor's context is done; WithoutRetry, WithoutHeal and
// WithoutRefresh take the element out. RegisterNSE returns a Registration
// whose Close unregisters, for components that shut down cleanly.
package client

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/sirupsen/logrus"
	"google.golang.org/grpc"

	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/registry/begin"
	"github.com/nsmesh/nsmesh/sdk/registry/connect"
	"github.com/nsmesh/nsmesh/sdk/registry/grpcmetadata"
	"github.com/nsmesh/nsmesh/sdk/registry/heal"
	"github.com/nsmesh/nsmesh/sdk/registry/refresh"
	"github.com/nsmesh/nsmesh/sdk/registry/retry"
	"github.com/nsmesh/nsmesh/sdk/tools/log"
)

// Option configures a registry client chain.
type Option func(*options)

type options struct {
	url         *url.URL
	dialOptions []grpc.DialOption
	dialTimeout time.Duration
	noRetry     bool
	noHeal      bool
	noRefresh   bool
	retryOpts   []retry.Option
	healOpts    []heal.Option
	nsExtra     []registry.NetworkServiceRegistryClient
	nseExtra    []registry.NetworkServiceEndpointRegistryClient
	logger      logrus.FieldLogger
}

// WithURL sets the registry (or nsmgr) URL to talk to.
func WithURL(u *url.URL) Option { return func(o *options) { o.url = u } }

// WithDialOptions sets the options for dialing; they must include transport
// credentials (and per-RPC token credentials when tokens are in use).
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(o *options) { o.dialOptions = append(o.dialOptions, opts...) }
}

// WithDialTimeout bounds how long a call waits for its connection
// (connect.DefaultDialTimeout).
func WithDialTimeout(d time.Duration) Option { return func(o *options) { o.dialTimeout = d } }

// WithoutRetry leaves retry out: calls fail on the first error.
func WithoutRetry() Option { return func(o *options) { o.noRetry = true } }

// WithRetryOptions configures retry.
func WithRetryOptions(opts ...retry.Option) Option {
	return func(o *options) { o.retryOpts = append(o.retryOpts, opts...) }
}

// WithoutHeal leaves heal out: a registration the registry loses stays lost
// (until the next refresh).
func WithoutHeal() Option { return func(o *options) { o.noHeal = true } }

// WithHealOptions configures heal.
func WithHealOptions(opts ...heal.Option) Option {
	return func(o *options) { o.healOpts = append(o.healOpts, opts...) }
}

// WithoutRefresh leaves refresh out of the NSE chain: registrations expire.
func WithoutRefresh() Option { return func(o *options) { o.noRefresh = true } }

// WithNSAdditionalFunctionality puts elements just before grpcmetadata in the
// NS chain.
func WithNSAdditionalFunctionality(elems ...registry.NetworkServiceRegistryClient) Option {
	return func(o *options) { o.nsExtra = append(o.nsExtra, elems...) }
}

// WithNSEAdditionalFunctionality puts elements just before grpcmetadata in the
// NSE chain (e.g. fd passing, client info).
func WithNSEAdditionalFunctionality(elems ...registry.NetworkServiceEndpointRegistryClient) Option {
	return func(o *options) { o.nseExtra = append(o.nseExtra, elems...) }
}

// WithLogger sets the logger of retry, heal and refresh.
func WithLogger(l logrus.FieldLogger) Option { return func(o *options) { o.logger = l } }

func build(opts []Option) (*options, []connect.Option) {
	o := &options{dialTimeout: connect.DefaultDialTimeout, logger: log.Discard()}
	for _, opt := range opts {
		opt(o)
	}
	return o, []connect.Option{
		connect.WithURL(o.url),
		connect.WithDialOptions(o.dialOptions...),
		connect.WithDialTimeout(o.dialTimeout),
	}
}

// NewNSEClient returns an endpoint registry client. Refresh timers, heal
// watches and connections end when ctx is done; registrations are then left to
// expire in the registry (use Registration.Close first to remove them).
func NewNSEClient(ctx context.Context, opts ...Option) (registry.NetworkServiceEndpointRegistryClient, error) {
	o, copts := build(opts)
	conn, err := connect.NewNSEClient(ctx, copts...)
	if err != nil {
		return nil, fmt.Errorf("registry client: %w", err)
	}
	var rt, hl, rf registry.NetworkServiceEndpointRegistryClient
	if !o.noRetry {
		if rt, err = retry.NewNSEClient(append([]retry.Option{retry.WithLogger(o.logger)}, o.retryOpts...)...); err != nil {
			return nil, fmt.Errorf("registry client: %w", err)
		}
	}
	if !o.noHeal {
		if hl, err = heal.NewNSEClient(ctx, append([]heal.Option{heal.WithLogger(o.logger)}, o.healOpts...)...); err != nil {
			return nil, fmt.Errorf("registry client: %w", err)
		}
	}
	if !o.noRefresh {
		rf = refresh.NewNSEClient(ctx, refresh.WithLogger(o.logger))
	}
	elems := []registry.NetworkServiceEndpointRegistryClient{
		begin.NewNSEClient(),
		rt,
		hl,
		rf,
	}
	elems = append(elems, o.nseExtra...)
	elems = append(elems, grpcmetadata.NewNSEClient(), conn)
	return chain.NewNSEClient(elems...), nil
}

// NewNSClient returns a network service registry client. Heal watches end
// when ctx is done; network services are not unregistered then, since other
// endpoints may serve them.
func NewNSClient(ctx context.Context, opts ...Option) (registry.NetworkServiceRegistryClient, error) {
	o, copts := build(opts)
	conn, err := connect.NewNSClient(ctx, copts...)
	if err != nil {
		return nil, fmt.Errorf("registry client: %w", err)
	}
	var rt, hl registry.NetworkServiceRegistryClient
	if !o.noRetry {
		if rt, err = retry.NewNSClient(append([]retry.Option{retry.WithLogger(o.logger)}, o.retryOpts...)...); err != nil {
			return nil, fmt.Errorf("registry client: %w", err)
		}
	}
	if !o.noHeal {
		if hl, err = heal.NewNSClient(ctx, append([]heal.Option{heal.WithLogger(o.logger)}, o.healOpts...)...); err != nil {
			return nil, fmt.Errorf("registry client: %w", err)
		}
	}
	elems := []registry.NetworkServiceRegistryClient{begin.NewNSClient(), rt, hl}
	elems = append(elems, o.nsExtra...)
	elems = append(elems, grpcmetadata.NewNSClient(), conn)
	return chain.NewNSClient(elems...), nil
}
