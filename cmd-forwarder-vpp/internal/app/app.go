// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package app runs the VPP forwarder: it attaches to an external VPP or
// starts a local one, attaches VPP to the node's uplink when
// NSM_VPP_INIT=AF_PACKET, then serves the sdk forwarder chain with the VPP data
// plane (taps into workload namespaces, VXLAN and WireGuard tunnels,
// cross-connects in VPP), fd passing, gRPC health, and its registration at
// the nsmgr. It stops when ctx ends or when VPP goes away.
package app

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/sirupsen/logrus"
	"go.fd.io/govpp/api"
	"go.fd.io/govpp/binapi/vpe"
	"google.golang.org/grpc"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	kernelmech "github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/kernel"
	"github.com/nsmesh/nsmesh/cmd-forwarder-vpp/internal/config"
	"github.com/nsmesh/nsmesh/sdk/chains/forwarder"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/dataplane/vpp"
	"github.com/nsmesh/nsmesh/sdk/dataplane/vpp/vppxc"
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

// errVPPExited cancels the forwarder when its local VPP exits.
var errVPPExited = errors.New("app: the local VPP exited")

// Run picks the VPP (the external one when NSM_VPP_API_SOCKET exists, else a
// local child process), connects to it and serves the forwarder until ctx
// ends (nil) or VPP goes away (an error). A local VPP is stopped on return;
// the interfaces programmed into an external one stay for the next run to
// adopt.
func Run(ctx context.Context, cfg *config.Config, logger *logrus.Logger) error {
	log := logger.WithField("component", cfg.Name)
	target, err := startOrAttach(ctx, cfg.VPP, log)
	if err != nil {
		return err
	}
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if target.local != nil {
		// Runs after cancel (defers are last in, first out): the forwarder
		// has stopped serving before its VPP goes.
		defer func() {
			if err := target.local.Close(); err != nil {
				log.WithError(err).Debug("local VPP")
			}
		}()
		go func() {
			select {
			case <-target.local.Done():
				cancel(errVPPExited)
			case <-runCtx.Done():
			}
		}()
	}
	// vppGone is non-nil when the local VPP's exit ended runCtx.
	vppGone := func() error {
		if errors.Is(context.Cause(runCtx), errVPPExited) {
			return fmt.Errorf("app: %w", target.local.Err())
		}
		return nil
	}

	log.WithField("api_socket", target.socket).Info("connecting to VPP (retried until it answers)")
	conn, err := vpp.Dial(runCtx, target.socket,
		vpp.WithMinOperationTimeout(cfg.VPP.MinOperationTimeout),
		vpp.WithClientName(cfg.Name),
		vpp.WithLogger(log))
	if err != nil {
		if gone := vppGone(); gone != nil {
			return gone
		}
		if ctx.Err() != nil {
			log.Info("stopped before VPP answered")
			return nil
		}
		return fmt.Errorf("app: %w", err)
	}
	defer func() { _ = vpp.Close(conn) }()

	err = Serve(runCtx, cfg, conn, logger)
	if gone := vppGone(); gone != nil {
		return errors.Join(gone, err)
	}
	return err
}

// Serve runs the forwarder on an open VPP connection until ctx ends, then
// unregisters it and stops. It returns an error when the forwarder cannot
// start or VPP stops answering.
func Serve(ctx context.Context, cfg *config.Config, conn api.Connection, logger *logrus.Logger) error {
	log := logger.WithField("component", cfg.Name)

	// The first call: proves VPP answers the binary API, and says which VPP
	// this is in the log.
	start := time.Now()
	ver, err := vpe.NewServiceClient(conn).ShowVersion(ctx, &vpe.ShowVersion{})
	if err != nil {
		return fmt.Errorf("app: VPP does not answer show_version: %w", err)
	}
	log.WithFields(logrus.Fields{"program": ver.Program, "version": ver.Version, "build_date": ver.BuildDate, "duration": time.Since(start)}).
		Info("VPP answers")

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

	// With AF_PACKET, VPP gets the node's uplink before anything else, and
	// the tunnels start on its address with its MTU.
	tunnelIP, underlayMTU := cfg.TunnelIP, 0
	if cfg.VPP.Init == config.InitAFPacket {
		res, err := initUplink(ctx, cfg, conn, log)
		if err != nil {
			return err
		}
		tunnelIP, underlayMTU = res.TunnelIP, res.MTU
	}
	remote, err := newTunnels(cfg, tunnelIP, log)
	if err != nil {
		return err
	}
	if underlayMTU > 0 {
		remote.dpOpts = append(remote.dpOpts, vppxc.WithUnderlayMTU(underlayMTU))
	}
	// New finds what an earlier run of this forwarder left in VPP (first
	// dump) and keeps it for adoption during the grace.
	dp, err := vppxc.New(ctx, conn, append([]vppxc.Option{
		vppxc.WithOwner(cfg.Name),
		vppxc.WithLogger(log),
		vppxc.WithAdoptionGrace(cfg.AdoptionGrace),
	}, remote.dpOpts...)...)
	if err != nil {
		return fmt.Errorf("app: %w", err)
	}
	defer dp.Close()

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
	lost := watchVPP(serveCtx, conn, log)

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
	case err = <-lost:
		log.WithError(err).Error("shutting down: VPP is gone")
	}
	// Unregister first, so that the nsmgr stops choosing this forwarder.
	forwarder.Unregister(reg, unregisterWait, log)
	stopServing()
	<-served
	return err
}
