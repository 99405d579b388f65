// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package forwarder is the control-plane skeleton shared by every forwarder;
// the data plane (kernel, VPP, a fake in tests) plugs in as an
// xconnect.Dataplane plus the mechanism elements it supports.
//
// The network service chain, in order:
//
//	endpoint chain (updatepath, begin, updatetoken, authorize, timeout, monitor, trimpath)
//	discover              the service and its candidate endpoints (registry via the local nsmgr)
//	roundrobin            pick a candidate; on failure try the next
//	mechanisms            accept the upstream (client-side) mechanism
//	connect(client chain) to the endpoint or the remote nsmgr, as a passthrough:
//	    xconnect(dataplane)        translate mechanisms, program the data plane
//	    WhenLocal(local mechanisms)   preferences towards an endpoint on this node
//	    WhenRemote(remote mechanisms) preferences towards another node (tunnels)
//	    monitor relay                 downstream events up to this hop
//
// NewRemote (the tunnel mechanisms: VXLAN, WireGuard and the choice between
// them) and Register/Unregister (the forwarder's endpoint at its nsmgr) are
// the same for every data plane too.
package forwarder

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/sirupsen/logrus"
	"google.golang.org/grpc"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/chains/client"
	"github.com/nsmesh/nsmesh/sdk/chains/endpoint"
	"github.com/nsmesh/nsmesh/sdk/networkservice/connect"
	"github.com/nsmesh/nsmesh/sdk/networkservice/discover"
	"github.com/nsmesh/nsmesh/sdk/networkservice/monitor"
	"github.com/nsmesh/nsmesh/sdk/networkservice/roundrobin"
	"github.com/nsmesh/nsmesh/sdk/networkservice/xconnect"
	regclient "github.com/nsmesh/nsmesh/sdk/registry/chains/client"
	"github.com/nsmesh/nsmesh/sdk/token"
	"github.com/nsmesh/nsmesh/sdk/tools/log"
)

// Option configures New.
type Option func(*options)

type options struct {
	nsmgrURL     *url.URL
	dataplane    xconnect.Dataplane
	mechanisms   networkservice.NetworkServiceServer
	local        []networkservice.NetworkServiceClient
	remote       []networkservice.NetworkServiceClient
	clientElems  []networkservice.NetworkServiceClient
	dialOpts     []grpc.DialOption
	dialTimeout  time.Duration
	endpointOpts []endpoint.Option
	logger       logrus.FieldLogger
}

// WithNSMgrURL sets the local nsmgr, through which the forwarder reads the registry.
func WithNSMgrURL(u *url.URL) Option { return func(o *options) { o.nsmgrURL = u } }

// WithDataplane sets the data plane that programs each connection.
func WithDataplane(dp xconnect.Dataplane) Option { return func(o *options) { o.dataplane = dp } }

// WithMechanisms sets the element that accepts the upstream mechanism, e.g. a
// mechanisms dispatcher over KERNEL and the tunnel servers.
func WithMechanisms(s networkservice.NetworkServiceServer) Option {
	return func(o *options) { o.mechanisms = s }
}

// WithLocalMechanisms sets the elements that offer mechanisms to an endpoint on this node.
func WithLocalMechanisms(elems ...networkservice.NetworkServiceClient) Option {
	return func(o *options) { o.local = append(o.local, elems...) }
}

// WithRemoteMechanisms sets the elements that offer tunnels to another node.
func WithRemoteMechanisms(elems ...networkservice.NetworkServiceClient) Option {
	return func(o *options) { o.remote = append(o.remote, elems...) }
}

// WithClientElements places elems in the client chain after the mechanisms
// (e.g. fd sending).
func WithClientElements(elems ...networkservice.NetworkServiceClient) Option {
	return func(o *options) { o.clientElems = append(o.clientElems, elems...) }
}

// WithDialOptions sets the options for dialing endpoints, nsmgrs and the registry.
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(o *options) { o.dialOpts = append(o.dialOpts, opts...) }
}

// WithDialTimeout bounds dialing the next hop.
func WithDialTimeout(d time.Duration) Option { return func(o *options) { o.dialTimeout = d } }

// WithEndpointOptions passes options to the endpoint chain.
func WithEndpointOptions(opts ...endpoint.Option) Option {
	return func(o *options) { o.endpointOpts = append(o.endpointOpts, opts...) }
}

// WithLogger sets the component's logger.
func WithLogger(l logrus.FieldLogger) Option { return func(o *options) { o.logger = l } }

// New returns the forwarder named name, signing its tokens with gen.
func New(ctx context.Context, name string, gen token.Generator, opts ...Option) (*endpoint.Endpoint, error) {
	o := options{logger: log.Discard()}
	for _, opt := range opts {
		opt(&o)
	}
	switch {
	case o.nsmgrURL == nil:
		return nil, errors.Join(endpoint.ErrConfig, errors.New("forwarder: no nsmgr URL"))
	case o.dataplane == nil:
		return nil, errors.Join(endpoint.ErrConfig, errors.New("forwarder: no data plane"))
	case o.mechanisms == nil:
		return nil, errors.Join(endpoint.ErrConfig, errors.New("forwarder: no upstream mechanisms"))
	}
	logger := o.logger.WithField("hop", name)

	regOpts := []regclient.Option{
		regclient.WithURL(o.nsmgrURL),
		regclient.WithDialOptions(o.dialOpts...),
		regclient.WithoutRefresh(),
		regclient.WithoutHeal(),
		regclient.WithLogger(logger),
	}
	if o.dialTimeout > 0 {
		regOpts = append(regOpts, regclient.WithDialTimeout(o.dialTimeout))
	}
	nsClient, err := regclient.NewNSClient(ctx, regOpts...)
	if err != nil {
		return nil, fmt.Errorf("forwarder: %w", err)
	}
	nseClient, err := regclient.NewNSEClient(ctx, regOpts...)
	if err != nil {
		return nil, fmt.Errorf("forwarder: %w", err)
	}
	disc, err := discover.NewServer(nsClient, nseClient, discover.WithLogger(logger))
	if err != nil {
		return nil, fmt.Errorf("forwarder: %w", err)
	}

	clientOpts := []client.Option{
		client.AsPassthrough(),
		client.WithDialOptions(o.dialOpts...),
		client.WithLogger(logger),
		client.WithAdditionalFunctionality(
			xconnect.NewClient(o.dataplane, logger),
			xconnect.WhenLocal(o.local...),
			xconnect.WhenRemote(o.remote...),
			monitor.NewClient(ctx, monitor.WithLogger(logger), monitor.WithCloseOnEndpointLoss(0)),
		),
		client.WithAdditionalFunctionality(o.clientElems...),
	}
	if o.dialTimeout > 0 {
		clientOpts = append(clientOpts, client.WithDialTimeout(o.dialTimeout))
	}
	next, err := client.New(ctx, name, nil, clientOpts...)
	if err != nil {
		return nil, fmt.Errorf("forwarder: %w", err)
	}
	return endpoint.New(ctx, name, gen, append(append([]endpoint.Option{endpoint.WithLogger(o.logger)}, o.endpointOpts...),
		endpoint.WithAdditionalFunctionality(
			disc,
			roundrobin.NewServer(roundrobin.WithLogger(logger)),
			o.mechanisms,
			connect.NewServer(next),
		))...)
}
