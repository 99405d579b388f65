// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package client is the prebuilt client chain: network service clients use it
// to reach their nsmgr, and passthrough hops (nsmgr, forwarder, passthrough
// endpoints) use it inside connect to reach the next hop.
//
// The chain, in order:
//
//	updatepath(name)      this hop's path segment (shared with its server in a passthrough)
//	begin(reselect)       per-connection serialisation, metadata, events
//	updatetoken(gen)      the originating client's own token (not in passthroughs)
//	refresh               re-request before tokens expire (originating client only)
//	clienturl(URL)        fixed next hop, when given
//	heal                  when given
//	dial                  connection to the next hop (or a fixed ClientConn)
//	...additional functionality (mechanisms, xconnect, monitor relay, ...)
//	authorize             token policies on the returned path
//	trimpath              keep the downstream path in passthroughs
//	connect               the gRPC call
package client

import (
	"context"
	"errors"
	"net/url"
	"time"

	"github.com/sirupsen/logrus"
	"google.golang.org/grpc"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/core/begin"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/networkservice/authorize"
	"github.com/nsmesh/nsmesh/sdk/networkservice/clienturl"
	"github.com/nsmesh/nsmesh/sdk/networkservice/connect"
	"github.com/nsmesh/nsmesh/sdk/networkservice/dial"
	"github.com/nsmesh/nsmesh/sdk/networkservice/refresh"
	"github.com/nsmesh/nsmesh/sdk/networkservice/trimpath"
	"github.com/nsmesh/nsmesh/sdk/networkservice/updatepath"
	"github.com/nsmesh/nsmesh/sdk/networkservice/updatetoken"
	"github.com/nsmesh/nsmesh/sdk/token"
	"github.com/nsmesh/nsmesh/sdk/tools/log"
)

// Option configures New.
type Option func(*options)

type options struct {
	url         *url.URL
	cc          grpc.ClientConnInterface
	dialOpts    []grpc.DialOption
	dialTimeout time.Duration
	passthrough bool
	noRefresh   bool
	reselect    begin.ReselectFunc
	heal        networkservice.NetworkServiceClient
	additional  []networkservice.NetworkServiceClient
	authorize   []authorize.Option
	refresh     []refresh.Option
	logger      logrus.FieldLogger
}

// WithURL fixes the next hop (e.g. the local nsmgr's socket).
func WithURL(u *url.URL) Option { return func(o *options) { o.url = u } }

// WithClientConn uses cc instead of dialing.
func WithClientConn(cc grpc.ClientConnInterface) Option { return func(o *options) { o.cc = cc } }

// WithDialOptions sets the options for dialing the next hop (transport
// credentials, per-RPC token credentials, fd passing ...).
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(o *options) { o.dialOpts = append(o.dialOpts, opts...) }
}

// WithDialTimeout bounds dialing the next hop.
func WithDialTimeout(d time.Duration) Option { return func(o *options) { o.dialTimeout = d } }

// AsPassthrough builds the client of a passthrough hop: no own token (the
// server half of the hop set it) and no refresh (the originating client
// drives refresh end to end).
func AsPassthrough() Option { return func(o *options) { o.passthrough = true } }

// WithoutRefresh leaves the connection to expire unless the caller refreshes it.
func WithoutRefresh() Option { return func(o *options) { o.noRefresh = true } }

// WithReselectFunc sets how a reselect event prepares the request.
func WithReselectFunc(f begin.ReselectFunc) Option { return func(o *options) { o.reselect = f } }

// WithHeal places a heal element.
func WithHeal(h networkservice.NetworkServiceClient) Option { return func(o *options) { o.heal = h } }

// WithAdditionalFunctionality places elems between dial and authorize.
func WithAdditionalFunctionality(elems ...networkservice.NetworkServiceClient) Option {
	return func(o *options) { o.additional = append(o.additional, elems...) }
}

// WithAuthorizeOptions replaces the default policies (authorize.ClientPolicies).
func WithAuthorizeOptions(opts ...authorize.Option) Option {
	return func(o *options) { o.authorize = opts }
}

// WithRefreshOptions passes options to the refresh element.
func WithRefreshOptions(opts ...refresh.Option) Option {
	return func(o *options) { o.refresh = opts }
}

// WithLogger sets the component's logger.
func WithLogger(l logrus.FieldLogger) Option { return func(o *options) { o.logger = l } }

// ErrConfig is wrapped by every configuration error of New.
var ErrConfig = errors.New("client: bad configuration")

// New returns the client chain of the hop named name. gen signs the
// originating client's own token and may be nil for passthroughs. Timers and
// streams stop when ctx ends.
func New(ctx context.Context, name string, gen token.Generator, opts ...Option) (networkservice.NetworkServiceClient, error) {
	o := options{logger: log.Discard()}
	for _, opt := range opts {
		opt(&o)
	}
	if name == "" {
		return nil, errors.Join(ErrConfig, errors.New("client: name is empty"))
	}
	if gen == nil && !o.passthrough {
		return nil, errors.Join(ErrConfig, errors.New("client: no token generator"))
	}
	logger := o.logger.WithField("hop", name)

	elems := []networkservice.NetworkServiceClient{
		updatepath.NewClient(name),
		begin.NewClient(o.reselect),
	}
	if !o.passthrough {
		elems = append(elems, updatetoken.NewClient(gen, updatetoken.WithLogger(logger)))
		if !o.noRefresh {
			elems = append(elems, refresh.NewClient(ctx, append([]refresh.Option{refresh.WithLogger(logger)}, o.refresh...)...))
		}
	}
	if o.url != nil {
		elems = append(elems, clienturl.NewClient(o.url))
	}
	elems = append(elems, o.heal)
	if o.cc != nil {
		elems = append(elems, dial.NewFixedClient(o.cc))
	} else {
		dialOpts := []dial.Option{dial.WithContext(ctx), dial.WithDialOptions(o.dialOpts...), dial.WithLogger(logger)}
		if o.dialTimeout > 0 {
			dialOpts = append(dialOpts, dial.WithDialTimeout(o.dialTimeout))
		}
		elems = append(elems, dial.NewClient(dialOpts...))
	}
	elems = append(elems, o.additional...)
	authOpts := append([]authorize.Option{authorize.WithLogger(logger)}, o.authorize...)
	elems = append(elems,
		authorize.NewClient(authOpts...),
		trimpath.NewClient(),
		connect.NewClient(),
	)
	return chain.NewClient(elems...), nil
}
