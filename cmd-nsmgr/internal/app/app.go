// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package app runs the nsmgr: the sdk nsmgr chain (endpoint chain, forwarder
// selection, connect to the forwarder) and its registry servers, with fd
// passing on unix sockets and gRPC health. Rego policies from
// NSM_AUTHORIZE_POLICIES and NSM_REGISTRY_SERVER_POLICIES run after the
// native ones (token checks; registry names owned by their first registrant).
package app

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/sirupsen/logrus"
	"google.golang.org/grpc"

	"github.com/nsmesh/nsmesh/cmd-nsmgr/internal/config"
	"github.com/nsmesh/nsmesh/sdk/chains/endpoint"
	"github.com/nsmesh/nsmesh/sdk/chains/nsmgr"
	"github.com/nsmesh/nsmesh/sdk/networkservice/authorize"
	"github.com/nsmesh/nsmesh/sdk/networkservice/fdpass"
	regauthorize "github.com/nsmesh/nsmesh/sdk/registry/authorize"
	regnsmgr "github.com/nsmesh/nsmesh/sdk/registry/chains/nsmgr"
	"github.com/nsmesh/nsmesh/sdk/tools/command"
	"github.com/nsmesh/nsmesh/sdk/tools/grpcutils"
	"github.com/nsmesh/nsmesh/sdk/tools/opa"
	"github.com/nsmesh/nsmesh/sdk/tools/spiffe"
)

// StopTimeout bounds the graceful stop on exit.
const StopTimeout = 5 * time.Second

// Run serves until ctx ends, then stops gracefully. ready, when not nil, is
// called with the addresses served once the nsmgr is listening.
func Run(ctx context.Context, cfg *config.Config, ready ...func([]net.Addr)) error {
	logger := command.NewLogger(ctx, cfg.LogLevel)
	log := logger.WithFields(logrus.Fields{"component": "nsmgr", "name": cfg.Name})

	ident, err := spiffe.Open(ctx, cfg.Identity, "nsmgr", cfg.Name, cfg.MaxTokenLifetime, spiffe.WithLogger(log))
	if err != nil {
		return fmt.Errorf("app: identity: %w", err)
	}
	defer func() { _ = ident.Close() }()
	gen := ident.TokenGenerator()
	if cfg.PprofListenOn != "" {
		if err := command.ServePprof(ctx, cfg.PprofListenOn, log); err != nil {
			return fmt.Errorf("app: %w", err)
		}
	}
	// mTLS on every connection (plaintext only with NSM_INSECURE=true), path
	// tokens signed with the SVID key; fd passing wraps the credentials.
	dialOpts := append(fdpass.DialOptions(ident.ClientCredentials()), grpc.WithPerRPCCredentials(ident.PerRPCCredentials()))

	opts := []nsmgr.Option{
		nsmgr.WithURL(cfg.PublicURL),
		nsmgr.WithDialOptions(dialOpts...),
		nsmgr.WithDialTimeout(cfg.DialTimeout),
		nsmgr.WithForwarderServiceName(cfg.ForwarderServiceName),
		// The client's netns arrives as a descriptor and goes on to the forwarder.
		nsmgr.WithServerElements(fdpass.NewRecvServer(fdpass.WithLogger(log))),
		nsmgr.WithClientElements(fdpass.NewSendClient(fdpass.WithLogger(log))),
		nsmgr.WithLogger(log),
		nsmgr.WithEndpointOptions(endpoint.WithAuthorizeOptions(
			authorize.WithAdditionalPolicies(opa.ConnectionPolicies(cfg.AuthorizePolicies)...))),
		nsmgr.WithRegistryOptions(
			regnsmgr.WithNSAuthorize(regauthorize.NewNSServer(regauthorize.WithLogger(log),
				regauthorize.WithAdditionalPolicies(opa.RegistryPolicies(cfg.RegistryServerPolicies)...))),
			regnsmgr.WithNSEAuthorize(regauthorize.NewNSEServer(regauthorize.WithLogger(log),
				regauthorize.WithAdditionalPolicies(opa.RegistryPolicies(cfg.RegistryServerPolicies)...)))),
	}
	if len(cfg.RegistryClientPolicies) > 0 {
		// Checked on what the central registry returns, before the nsmgr
		// answers the registrant.
		ps := opa.RegistryPolicies(cfg.RegistryClientPolicies)
		opts = append(opts, nsmgr.WithRegistryOptions(
			regnsmgr.WithNSClientElements(regauthorize.NewNSClient(regauthorize.WithLogger(log), regauthorize.WithPolicies(ps...))),
			regnsmgr.WithNSEClientElements(regauthorize.NewNSEClient(regauthorize.WithLogger(log), regauthorize.WithPolicies(ps...)))))
	}
	if cfg.RegistryURL != nil {
		opts = append(opts, nsmgr.WithRegistryURL(cfg.RegistryURL))
	} else {
		log.Info("no NSM_REGISTRY_URL: registrations are kept in memory, this node only")
	}
	mgr, err := nsmgr.New(ctx, cfg.Name, gen, opts...)
	if err != nil {
		return fmt.Errorf("app: %w", err)
	}

	server := grpc.NewServer(fdpass.ServerOptions(ident.ServerCredentials())...)
	mgr.Register(server)
	grpcutils.RegisterHealth(server)
	var listeners []net.Listener
	var addrs []net.Addr
	for _, u := range cfg.ListenOn {
		l, err := grpcutils.Listen(ctx, u)
		if err != nil {
			for _, l := range listeners {
				_ = l.Close()
			}
			return fmt.Errorf("app: %w", err)
		}
		listeners = append(listeners, l)
		addrs = append(addrs, l.Addr())
	}
	served := grpcutils.Serve(ctx, server, StopTimeout, listeners...)
	log.WithFields(logrus.Fields{"listen_on": addrs, "public_url": cfg.PublicURL.String(), "registry": cfg.RegistryURL}).Info("serving")
	for _, f := range ready {
		f(addrs)
	}
	if err := <-served; err != nil {
		return fmt.Errorf("app: serve: %w", err)
	}
	log.Info("stopped")
	return nil
}
