// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package app runs the ICMP endpoint: the sdk endpoint chain with
// point-to-point IPAM, the KERNEL mechanism, DNS configs and fd passing,
// served on a unix socket with gRPC health and registered at the local
// nsmgr.
//
//	endpoint chain (updatepath, begin, updatetoken, authorize + NSM_AUTHORIZE_POLICIES, timeout, monitor, trimpath)
//	report        log each new and closed connection
//	point2point   a /32 (/128) pair per address family from NSM_CIDR_PREFIX
//	mechanisms    KERNEL: the endpoint's own netns and an interface name
//	dnscontext    NSM_DNS_CONFIGS
//	fdpass send   the netns goes back to the forwarder as a descriptor
//
// The endpoint programs nothing itself: the forwarder creates the
// interface inside the endpoint's namespace and sets its addresses.
package app

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	kernelmech "github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/kernel"
	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/cmd-nse-icmp/internal/config"
	"github.com/nsmesh/nsmesh/sdk/chains/endpoint"
	"github.com/nsmesh/nsmesh/sdk/networkservice/authorize"
	"github.com/nsmesh/nsmesh/sdk/networkservice/clientinfo"
	"github.com/nsmesh/nsmesh/sdk/networkservice/dnscontext"
	"github.com/nsmesh/nsmesh/sdk/networkservice/fdpass"
	"github.com/nsmesh/nsmesh/sdk/networkservice/ipam/point2point"
	"github.com/nsmesh/nsmesh/sdk/networkservice/mechanisms"
	"github.com/nsmesh/nsmesh/sdk/networkservice/mechanisms/kernel"
	regauthorize "github.com/nsmesh/nsmesh/sdk/registry/authorize"
	regclient "github.com/nsmesh/nsmesh/sdk/registry/chains/client"
	"github.com/nsmesh/nsmesh/sdk/token"
	"github.com/nsmesh/nsmesh/sdk/tools/grpcutils"
	"github.com/nsmesh/nsmesh/sdk/tools/opa"
	"github.com/nsmesh/nsmesh/sdk/tools/spiffe"
)

// StopTimeout bounds unregistering and stopping the server on exit.
const StopTimeout = 5 * time.Second

// Run serves and registers the endpoint until ctx ends, then (with
// NSM_UNREGISTER_ITSELF) unregisters it and stops. It returns an error when
// the endpoint cannot serve or its registration fails in a way another try
// cannot fix (e.g. permission denied).
func Run(ctx context.Context, cfg *config.Config, logger *logrus.Logger) error {
	log := logger.WithFields(logrus.Fields{"component": "nse", "name": cfg.Name})
	// mTLS on the endpoint's server and to the nsmgr (plaintext only with
	// NSM_INSECURE=true), path tokens signed with the SVID key; fd passing
	// wraps the credentials.
	ident, err := spiffe.Open(ctx, cfg.Identity, "nse", cfg.Name, cfg.MaxTokenLifetime, spiffe.WithLogger(log))
	if err != nil {
		return fmt.Errorf("app: identity: %w", err)
	}
	defer func() { _ = ident.Close() }()
	gen := ident.TokenGenerator()
	dialOpts := append(fdpass.DialOptions(ident.ClientCredentials()), grpc.WithPerRPCCredentials(ident.PerRPCCredentials()))

	listenOn := cfg.ListenOn
	if listenOn == nil {
		dir, err := os.MkdirTemp("", cfg.Name+"-")
		if err != nil {
			return fmt.Errorf("app: socket directory: %w", err)
		}
		defer func() { _ = os.RemoveAll(dir) }()
		listenOn = &url.URL{Scheme: "unix", Path: filepath.Join(dir, "listen.on")}
	}

	ep, err := newEndpoint(ctx, cfg, gen, log)
	if err != nil {
		return err
	}
	server := grpc.NewServer(fdpass.ServerOptions(ident.ServerCredentials())...)
	ep.Register(server)
	grpcutils.RegisterHealth(server)
	listener, err := grpcutils.Listen(ctx, listenOn)
	if err != nil {
		return fmt.Errorf("app: %w", err)
	}
	if cfg.ListenOn != nil {
		defer func() { _ = os.Remove(listenOn.Path) }()
	}
	// The server outlives ctx long enough to unregister first.
	serveCtx, stopServing := context.WithCancel(context.WithoutCancel(ctx))
	defer stopServing()
	served := grpcutils.Serve(serveCtx, server, StopTimeout, listener)
	log.WithFields(logrus.Fields{
		"listen_on": listenOn.String(),
		"services":  cfg.ServiceNames,
		"prefixes":  cfg.CIDRPrefixes,
	}).Info("serving")

	reg, err := register(ctx, cfg, listenOn, dialOpts, log)
	if err != nil {
		stopServing()
		<-served
		if ctx.Err() != nil {
			log.Info("stopped before the registration succeeded")
			return nil
		}
		return err
	}
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err = <-served:
		if err != nil {
			err = fmt.Errorf("app: serve %s: %w", listenOn, err)
		}
	}
	if cfg.UnregisterItself {
		if uerr := reg.Close(); uerr != nil {
			log.WithError(uerr).Warn("unregister")
		} else {
			log.Info("unregistered")
		}
	}
	stopServing()
	<-served
	return err
}

// newEndpoint builds the endpoint chain.
func newEndpoint(ctx context.Context, cfg *config.Config, gen token.Generator, log logrus.FieldLogger) (*endpoint.Endpoint, error) {
	ipam, err := point2point.NewServer(cfg.CIDRPrefixes)
	if err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	kernelServer, err := kernel.NewServer()
	if err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	ep, err := endpoint.New(ctx, cfg.Name, gen,
		endpoint.WithLogger(log),
		endpoint.WithAuthorizeOptions(authorize.WithAdditionalPolicies(opa.ConnectionPolicies(cfg.AuthorizePolicies)...)),
		endpoint.WithAdditionalFunctionality(
			newReport(log),
			ipam,
			mechanisms.NewServer(map[string]networkservice.NetworkServiceServer{kernelmech.MECHANISM: kernelServer}),
			dnscontext.NewServer(cfg.DNSConfigs...),
			fdpass.NewSendServer(fdpass.WithLogger(log)),
		))
	if err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	return ep, nil
}

// register announces the network services (with NSM_REGISTER_SERVICE) and
// the endpoint at the nsmgr. The endpoint's registration is refreshed, and
// registered again when the registry loses it, until ctx ends. It blocks
// until the first registration succeeds or ctx ends.
func register(ctx context.Context, cfg *config.Config, listenOn *url.URL, dialOpts []grpc.DialOption, log logrus.FieldLogger) (*regclient.Registration, error) {
	opts := []regclient.Option{
		regclient.WithURL(cfg.ConnectTo),
		regclient.WithDialOptions(dialOpts...),
		regclient.WithDialTimeout(cfg.DialTimeout),
		regclient.WithLogger(log),
	}
	var nsAuthz []registry.NetworkServiceRegistryClient
	var nseAuthz []registry.NetworkServiceEndpointRegistryClient
	if len(cfg.RegistryClientPolicies) > 0 {
		ps := opa.RegistryPolicies(cfg.RegistryClientPolicies)
		nsAuthz = append(nsAuthz, regauthorize.NewNSClient(regauthorize.WithLogger(log), regauthorize.WithPolicies(ps...)))
		nseAuthz = append(nseAuthz, regauthorize.NewNSEClient(regauthorize.WithLogger(log), regauthorize.WithPolicies(ps...)))
	}
	t := &tries{log: log.WithField("nsmgr", cfg.ConnectTo.String())}
	start := time.Now()
	log.WithField("nsmgr", cfg.ConnectTo.String()).Info("registering (retried until the nsmgr answers)")
	if cfg.RegisterService {
		nsClient, err := regclient.NewNSClient(ctx, append(opts, regclient.WithNSAdditionalFunctionality(append(nsAuthz, &nsTries{t: t})...))...)
		if err != nil {
			return nil, fmt.Errorf("app: %w", err)
		}
		for _, name := range cfg.ServiceNames {
			_, err := nsClient.Register(ctx, &registry.NetworkService{Name: name, Payload: cfg.Payload})
			if status.Code(err) == codes.PermissionDenied && strings.Contains(err.Error(), "first_registrant") {
				// Another identity registered the service first, with another
				// definition (the registry accepts the same one from every
				// endpoint, so that each keeps it registered); serving it does
				// not need to change that, but this endpoint cannot heal it.
				log.WithError(err).Warnf("network service %q is registered by another identity with another definition; leaving it as it is", name)
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("app: register network service %q at the nsmgr %s: %w", name, cfg.ConnectTo, err)
			}
		}
	}
	nseClient, err := regclient.NewNSEClient(ctx, append(opts, regclient.WithNSEAdditionalFunctionality(append(nseAuthz, &nseTries{t: t})...))...)
	if err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	reg, err := regclient.RegisterNSE(ctx, nseClient, &registry.NetworkServiceEndpoint{
		Name:                 cfg.Name,
		NetworkServiceNames:  cfg.ServiceNames,
		NetworkServiceLabels: serviceLabels(cfg),
		Url:                  listenOn.String(),
	})
	if err != nil {
		return nil, fmt.Errorf("app: register at the nsmgr %s: %w", cfg.ConnectTo, err)
	}
	log.WithFields(logrus.Fields{
		"nsmgr":    cfg.ConnectTo.String(),
		"services": cfg.ServiceNames,
		"labels":   serviceLabels(cfg)[cfg.ServiceNames[0]].GetLabels(),
		"duration": time.Since(start),
	}).Info("registered")
	return reg, nil
}

// serviceLabels gives every service NSM_LABELS plus where the endpoint runs
// (nodeName, podName, clusterName from the environment), as upstream's
// registration client does; configured labels win.
func serviceLabels(cfg *config.Config) map[string]*registry.NetworkServiceLabels {
	labels := clientinfo.Labels()
	maps.Copy(labels, cfg.Labels)
	out := make(map[string]*registry.NetworkServiceLabels, len(cfg.ServiceNames))
	for _, name := range cfg.ServiceNames {
		out[name] = &registry.NetworkServiceLabels{Labels: maps.Clone(labels)}
	}
	return out
}
