// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package nsmgr is the prebuilt Network Service Manager: one per node. Local
// clients, endpoints and forwarders talk only to it; it picks a forwarder for
// each connection and keeps the node's registrations.
//
// The network service chain, in order:
//
//	endpoint chain (updatepath, begin, updatetoken, authorize, timeout, monitor, trimpath)
//	...server elements given with WithServerElements (e.g. fd receiving)
//	discoverforwarder     pick a local forwarder (labels, p2p, sticky)
//	connect(client chain) to the forwarder, as a passthrough:
//	    monitor relay     forwarder events up to this hop's monitor
//	    ...client elements given with WithClientElements (e.g. fd sending)
//
// The registry servers (NS and NSE) forward to the central registry, or keep
// registrations in memory when there is none, and put the nsmgr's own URL in
// place of local endpoints' URLs (localbypass).
package nsmgr

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/sirupsen/logrus"
	"google.golang.org/grpc"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/chains/client"
	"github.com/nsmesh/nsmesh/sdk/chains/endpoint"
	"github.com/nsmesh/nsmesh/sdk/networkservice/connect"
	"github.com/nsmesh/nsmesh/sdk/networkservice/discoverforwarder"
	"github.com/nsmesh/nsmesh/sdk/networkservice/monitor"
	regadapters "github.com/nsmesh/nsmesh/sdk/registry/adapters"
	regchains "github.com/nsmesh/nsmesh/sdk/registry/chains"
	regnsmgr "github.com/nsmesh/nsmesh/sdk/registry/chains/nsmgr"
	"github.com/nsmesh/nsmesh/sdk/token"
	"github.com/nsmesh/nsmesh/sdk/tools/log"
)

// DefaultForwarderServiceName is the network service forwarders register for.
const DefaultForwarderServiceName = "forwarder"

// NSMgr is the network service manager of one node.
type NSMgr struct {
	*endpoint.Endpoint
	// Registry holds the NS and NSE registry servers.
	Registry *regchains.Servers
}

// Option configures New.
type Option func(*options)

type options struct {
	url              *url.URL
	registryURL      *url.URL
	dialOpts         []grpc.DialOption
	dialTimeout      time.Duration
	forwarderService string
	serverElems      []networkservice.NetworkServiceServer
	clientElems      []networkservice.NetworkServiceClient
	endpointOpts     []endpoint.Option
	registryOpts     []regnsmgr.Option
	logger           logrus.FieldLogger
}

// WithURL sets the URL other nodes reach this nsmgr at (tcp); forwarders and
// endpoints of this node are registered under it.
func WithURL(u *url.URL) Option { return func(o *options) { o.url = u } }

// WithRegistryURL sets the central registry; without it registrations stay in memory.
func WithRegistryURL(u *url.URL) Option { return func(o *options) { o.registryURL = u } }

// WithDialOptions sets the options for dialing forwarders and the registry.
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(o *options) { o.dialOpts = append(o.dialOpts, opts...) }
}

// WithDialTimeout bounds dialing forwarders and the registry.
func WithDialTimeout(d time.Duration) Option { return func(o *options) { o.dialTimeout = d } }

// WithForwarderServiceName sets the network service forwarders register for.
func WithForwarderServiceName(name string) Option {
	return func(o *options) { o.forwarderService = name }
}

// WithServerElements places elems before forwarder selection.
func WithServerElements(elems ...networkservice.NetworkServiceServer) Option {
	return func(o *options) { o.serverElems = append(o.serverElems, elems...) }
}

// WithClientElements places elems in the client chain towards the forwarder.
func WithClientElements(elems ...networkservice.NetworkServiceClient) Option {
	return func(o *options) { o.clientElems = append(o.clientElems, elems...) }
}

// WithEndpointOptions passes options to the endpoint chain (authorize, timeout).
func WithEndpointOptions(opts ...endpoint.Option) Option {
	return func(o *options) { o.endpointOpts = append(o.endpointOpts, opts...) }
}

// WithRegistryOptions passes options to the registry servers.
func WithRegistryOptions(opts ...regnsmgr.Option) Option {
	return func(o *options) { o.registryOpts = append(o.registryOpts, opts...) }
}

// WithLogger sets the component's logger.
func WithLogger(l logrus.FieldLogger) Option { return func(o *options) { o.logger = l } }

// New returns the nsmgr named name, signing its tokens with gen.
func New(ctx context.Context, name string, gen token.Generator, opts ...Option) (*NSMgr, error) {
	o := options{forwarderService: DefaultForwarderServiceName, logger: log.Discard()}
	for _, opt := range opts {
		opt(&o)
	}
	if o.url == nil {
		return nil, errors.Join(endpoint.ErrConfig, errors.New("nsmgr: no URL: forwarders and endpoints are registered under it"))
	}
	logger := o.logger.WithField("hop", name)

	regOpts := []regnsmgr.Option{
		regnsmgr.WithTokenGenerator(gen),
		regnsmgr.WithDialOptions(o.dialOpts...),
		regnsmgr.WithLogger(logger),
	}
	if o.registryURL != nil {
		regOpts = append(regOpts, regnsmgr.WithRegistryURL(o.registryURL))
	}
	if o.dialTimeout > 0 {
		regOpts = append(regOpts, regnsmgr.WithDialTimeout(o.dialTimeout))
	}
	reg, err := regnsmgr.NewServer(ctx, o.url, append(regOpts, o.registryOpts...)...)
	if err != nil {
		return nil, fmt.Errorf("nsmgr: %w", err)
	}

	selectFwd, err := discoverforwarder.NewServer(
		regadapters.NSServerToClient(reg.NS),
		regadapters.NSEServerToClient(reg.NSE),
		discoverforwarder.WithForwarderServiceName(o.forwarderService),
		discoverforwarder.WithNSMgrURL(o.url.String()),
		discoverforwarder.WithLogger(logger),
	)
	if err != nil {
		return nil, fmt.Errorf("nsmgr: %w", err)
	}

	clientOpts := []client.Option{
		client.AsPassthrough(),
		client.WithDialOptions(o.dialOpts...),
		client.WithLogger(logger),
		client.WithAdditionalFunctionality(monitor.NewClient(ctx, monitor.WithLogger(logger))),
		client.WithAdditionalFunctionality(o.clientElems...),
	}
	if o.dialTimeout > 0 {
		clientOpts = append(clientOpts, client.WithDialTimeout(o.dialTimeout))
	}
	toForwarder, err := client.New(ctx, name, nil, clientOpts...)
	if err != nil {
		return nil, fmt.Errorf("nsmgr: %w", err)
	}

	additional := append(append([]networkservice.NetworkServiceServer{}, o.serverElems...), selectFwd, connect.NewServer(toForwarder))
	ep, err := endpoint.New(ctx, name, gen, append(append([]endpoint.Option{endpoint.WithLogger(o.logger)}, o.endpointOpts...),
		endpoint.WithAdditionalFunctionality(additional...))...)
	if err != nil {
		return nil, fmt.Errorf("nsmgr: %w", err)
	}
	return &NSMgr{Endpoint: ep, Registry: reg}, nil
}

// Register registers the network service, monitor and registry services on s.
func (n *NSMgr) Register(s *grpc.Server) {
	n.Endpoint.Register(s)
	registry.RegisterNetworkServiceRegistryServer(s, n.Registry.NS)
	registry.RegisterNetworkServiceEndpointRegistryServer(s, n.Registry.NSE)
}
