// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package app runs the kernel forwarder: the sdk forwarder chain with the
// kernel data plane (veth pairs, WireGuard tunnels and vxlan devices in
// workload namespaces), fd passing, gRPC health, and its registration at
// the nsmgr.
package app

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/vishvananda/netlink"
	"google.golang.org/grpc"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	kernelmech "github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/kernel"
	"github.com/nsmesh/nsmesh/cmd-forwarder-kernel/internal/config"
	"github.com/nsmesh/nsmesh/sdk/chains/forwarder"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/dataplane/kernel/kernelxc"
	"github.com/nsmesh/nsmesh/sdk/networkservice/fdpass"
	"github.com/nsmesh/nsmesh/sdk/networkservice/mechanisms"
	"github.com/nsmesh/nsmesh/sdk/networkservice/mechanisms/kernel"
	"github.com/nsmesh/nsmesh/sdk/tools/command"
	"github.com/nsmesh/nsmesh/sdk/tools/grpcutils"
	"github.com/nsmesh/nsmesh/sdk/tools/spiffe"
)

const (
	// unregisterWait bounds unregistering on exit.
	unregisterWait = 2 * time.Second
	// shutdownTimeout is what calls in flight get to finish on exit; the
	// nsmgr's monitor streams never finish by themselves, so it is also how
	// long a graceful stop takes.
	shutdownTimeout = 2 * time.Second
)

// Run serves the forwarder until ctx ends, then unregisters it and stops.
// The interfaces it programmed are left in place for the next run to adopt.
func Run(ctx context.Context, cfg *config.Config, logger *logrus.Logger) error {
	log := logger.WithField("component", cfg.Name)

	tunnelIP := cfg.TunnelIP
	if tunnelIP == nil {
		h, err := netlink.NewHandle()
		if err == nil {
			tunnelIP, err = DefaultRouteIP(h)
			h.Close()
		}
		if err != nil {
			log.WithError(err).Warn("no tunnel address: only local (KERNEL to KERNEL) connections are served")
		} else {
			log.WithField("tunnel_ip", tunnelIP.String()).Info("tunnel address from the default route")
		}
	}

	if cfg.PprofListenOn != "" {
		if err := command.ServePprof(ctx, cfg.PprofListenOn, log); err != nil {
			return fmt.Errorf("app: %w", err)
		}
	}

	// mTLS on every connection (plaintext only with NSM_INSECURE=true), path
	// tokens signed with the SVID key; fd passing wraps the credentials.
	ident, err := spiffe.Open(ctx, cfg.Identity, "forwarder", cfg.Name, cfg.MaxTokenLifetime, spiffe.WithLogger(log))
	if err != nil {
		return fmt.Errorf("app: identity: %w", err)
	}
	defer func() { _ = ident.Close() }()
	gen := ident.TokenGenerator()
	dialOpts := append(fdpass.DialOptions(ident.ClientCredentials()), grpc.WithPerRPCCredentials(ident.PerRPCCredentials()))

	remote, err := newTunnels(cfg, tunnelIP, log)
	if err != nil {
		return err
	}
	dp, err := kernelxc.New(cfg.Name, append([]kernelxc.Option{kernelxc.WithLogger(log), kernelxc.WithAdoptionGrace(cfg.AdoptionGrace),
		kernelxc.WithStateDir(cfg.StateDir)}, remote.dpOpts...)...)
	if err != nil {
		return fmt.Errorf("app: %w", err)
	}
	// WireGuard tunnels live in this process and end with it anyway;
	// veth pairs and vxlan devices stay for the next run.
	defer dp.Close()
	if _, err := dp.Start(ctx); err != nil {
		return fmt.Errorf("app: %w", err)
	}

	accept := map[string]networkservice.NetworkServiceServer{kernelmech.MECHANISM: nil}
	maps.Copy(accept, remote.servers)
	offerKernel, err := kernel.NewClient()
	if err != nil {
		return fmt.Errorf("app: %w", err)
	}
	fwd, err := forwarder.New(ctx, cfg.Name, gen,
		forwarder.WithNSMgrURL(cfg.ConnectTo),
		forwarder.WithMechanisms(chain.NewServer(
			fdpass.NewRecvServer(fdpass.WithLogger(log)), // the caller's netns arrives as a descriptor
			mechanisms.NewServer(accept),
		)),
		forwarder.WithLocalMechanisms(offerKernel),
		forwarder.WithRemoteMechanisms(remote.offer),
		forwarder.WithDataplane(dp),
		forwarder.WithClientElements(
			fdpass.NewRecvClient(fdpass.WithLogger(log)), // the endpoint's netns comes back as a descriptor
			fdpass.NewSendClient(fdpass.WithLogger(log)),
		),
		forwarder.WithDialOptions(dialOpts...),
		forwarder.WithDialTimeout(cfg.DialTimeout),
		forwarder.WithLogger(log),
	)
	if err != nil {
		return fmt.Errorf("app: %w", err)
	}

	server := grpc.NewServer(fdpass.ServerOptions(ident.ServerCredentials())...)
	fwd.Register(server)
	grpcutils.RegisterHealth(server)
	listener, err := grpcutils.Listen(ctx, cfg.ListenOn)
	if err != nil {
		return fmt.Errorf("app: %w", err)
	}
	// The server outlives ctx long enough to unregister first.
	serveCtx, stopServing := context.WithCancel(context.WithoutCancel(ctx))
	defer stopServing()
	served := grpcutils.Serve(serveCtx, server, shutdownTimeout, listener)
	log.WithField("listen_on", cfg.ListenOn.String()).Info("serving")

	reg, err := forwarder.Register(ctx, forwarder.Registration{
		Name: cfg.Name, Labels: cfg.Labels, ListenOn: cfg.ListenOn,
		NSMgr: cfg.ConnectTo, DialTimeout: cfg.DialTimeout, DialOptions: dialOpts,
	}, log)
	if err != nil {
		stopServing()
		<-served
		if ctx.Err() != nil {
			log.Info("stopped before the registration succeeded")
			return nil
		}
		return fmt.Errorf("app: %w", err)
	}
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err = <-served:
		if err != nil {
			err = fmt.Errorf("app: serve %s: %w", cfg.ListenOn, err)
		}
	}
	// Unregister first, so that the nsmgr stops choosing this forwarder.
	forwarder.Unregister(reg, unregisterWait, log)
	stopServing()
	<-served
	return err
}
