// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package endpoint is the prebuilt server chain every hop of the mesh starts
// with: network service endpoints use it as is, with their own elements
// appended; nsmgr and forwarders build on it.
//
// The chain, in order:
//
//	updatepath(name)      this hop's path segment and connection id
//	begin                 per-connection serialisation, metadata, events
//	updatetoken(gen)      caller's and own path tokens
//	authorize             token policies on the path so far
//	timeout               close when the caller stops refreshing
//	monitor               MonitorConnection events for this hop
//	trimpath              endpoints drop stale path tails
//	...additional functionality (IPAM, mechanisms, connect, ...)
package endpoint

import (
	"context"
	"errors"

	"github.com/sirupsen/logrus"
	"google.golang.org/grpc"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/core/begin"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/networkservice/authorize"
	"github.com/nsmesh/nsmesh/sdk/networkservice/monitor"
	"github.com/nsmesh/nsmesh/sdk/networkservice/timeout"
	"github.com/nsmesh/nsmesh/sdk/networkservice/trimpath"
	"github.com/nsmesh/nsmesh/sdk/networkservice/updatepath"
	"github.com/nsmesh/nsmesh/sdk/networkservice/updatetoken"
	"github.com/nsmesh/nsmesh/sdk/token"
	"github.com/nsmesh/nsmesh/sdk/tools/log"
)

// Endpoint is a NetworkService server with its MonitorConnection service.
type Endpoint struct {
	networkservice.NetworkServiceServer
	// Monitor serves MonitorConnections for the connections of this hop.
	Monitor *monitor.Server
	// Begin holds the connections of this hop; tests use Begin.Len.
	Begin *begin.Server
	name  string
}

// Option configures New.
type Option func(*options)

type options struct {
	authorize  []authorize.Option
	additional []networkservice.NetworkServiceServer
	logger     logrus.FieldLogger
	timeout    []timeout.Option
}

// WithAuthorizeOptions replaces the default token policies
// (authorize.ServerPolicies) by the given authorize options.
func WithAuthorizeOptions(opts ...authorize.Option) Option {
	return func(o *options) { o.authorize = opts }
}

// WithAdditionalFunctionality appends elems to the chain.
func WithAdditionalFunctionality(elems ...networkservice.NetworkServiceServer) Option {
	return func(o *options) { o.additional = append(o.additional, elems...) }
}

// WithTimeoutOptions passes options to the timeout element.
func WithTimeoutOptions(opts ...timeout.Option) Option {
	return func(o *options) { o.timeout = opts }
}

// WithLogger sets the component's logger.
func WithLogger(l logrus.FieldLogger) Option { return func(o *options) { o.logger = l } }

// ErrConfig is wrapped by every configuration error of New.
var ErrConfig = errors.New("endpoint: bad configuration")

// New returns the endpoint chain of the hop named name, signing its tokens
// with gen. Its timers and monitor streams stop when ctx ends.
func New(ctx context.Context, name string, gen token.Generator, opts ...Option) (*Endpoint, error) {
	if name == "" {
		return nil, errors.Join(ErrConfig, errors.New("endpoint: name is empty"))
	}
	if gen == nil {
		return nil, errors.Join(ErrConfig, errors.New("endpoint: no token generator"))
	}
	o := options{logger: log.Discard()}
	for _, opt := range opts {
		opt(&o)
	}
	logger := o.logger.WithField("hop", name)
	authOpts := append([]authorize.Option{authorize.WithLogger(logger)}, o.authorize...)
	e := &Endpoint{
		Monitor: monitor.NewServer(ctx, monitor.WithLogger(logger)),
		Begin:   begin.NewServer(),
		name:    name,
	}
	elems := []networkservice.NetworkServiceServer{
		updatepath.NewServer(name),
		e.Begin,
		updatetoken.NewServer(gen, updatetoken.WithLogger(logger)),
		authorize.NewServer(authOpts...),
		timeout.NewServer(ctx, append([]timeout.Option{timeout.WithLogger(logger)}, o.timeout...)...),
		e.Monitor,
		trimpath.NewServer(),
	}
	e.NetworkServiceServer = chain.NewServer(append(elems, o.additional...)...)
	return e, nil
}

// Name returns the hop's name.
func (e *Endpoint) Name() string { return e.name }

// Register registers the NetworkService and MonitorConnection services on s.
func (e *Endpoint) Register(s *grpc.Server) {
	networkservice.RegisterNetworkServiceServer(s, e)
	networkservice.RegisterMonitorConnectionServer(s, e.Monitor)
}
