// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Command greeter is a complete custom network service endpoint built on the
// SDK: the prebuilt endpoint chain, point-to-point IPAM, the kernel
// mechanism, and one element of its own that writes a greeting into every
// connection's extra context. It registers itself at an nsmgr and serves
// until interrupted.
//
//	NSMGR=unix:///var/lib/networkservicemesh/nsm.io.sock go run ./examples/greeter
package main

import (
	"context"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/chains/endpoint"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/networkservice/ipam/point2point"
	"github.com/nsmesh/nsmesh/sdk/networkservice/mechanisms"
	"github.com/nsmesh/nsmesh/sdk/networkservice/mechanisms/kernel"
	regclient "github.com/nsmesh/nsmesh/sdk/registry/chains/client"
	"github.com/nsmesh/nsmesh/sdk/token"
	"github.com/nsmesh/nsmesh/sdk/tools/command"
	"github.com/nsmesh/nsmesh/sdk/tools/grpcutils"
)

// greeter is the custom element: it runs after IPAM and the mechanism were
// chosen, for every Request and refresh.
type greeter struct {
	chain.ServerLink
	text string
}

func (g *greeter) Request(ctx context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	c := req.GetConnection()
	if c.Context == nil {
		c.Context = &networkservice.ConnectionContext{}
	}
	if c.Context.ExtraContext == nil {
		c.Context.ExtraContext = map[string]string{}
	}
	c.Context.ExtraContext["greeting"] = g.text
	return g.Next().Request(ctx, req)
}

func (g *greeter) Close(ctx context.Context, conn *networkservice.Connection) (*emptypb.Empty, error) {
	return g.Next().Close(ctx, conn)
}

// run serves the endpoint name for service at listen until ctx ends,
// registered at the nsmgr nsmgrURL. ready is closed once it is registered.
func run(ctx context.Context, name, service string, nsmgrURL, listen *url.URL, ready chan<- struct{}) error {
	gen, err := command.DevIdentity("nse", name, 10*time.Minute)
	if err != nil {
		return err
	}
	ipam, err := point2point.NewServer([]netip.Prefix{netip.MustParsePrefix("172.31.0.0/24")})
	if err != nil {
		return err
	}
	kernelServer, err := kernel.NewServer()
	if err != nil {
		return err
	}
	ep, err := endpoint.New(ctx, name, gen, endpoint.WithAdditionalFunctionality(
		ipam,
		mechanisms.NewServer(map[string]networkservice.NetworkServiceServer{"KERNEL": kernelServer}),
		&greeter{text: "hello from " + name},
	))
	if err != nil {
		return err
	}
	srv := grpc.NewServer()
	ep.Register(srv)
	grpcutils.RegisterHealth(srv)
	l, err := grpcutils.Listen(ctx, listen)
	if err != nil {
		return err
	}
	served := grpcutils.Serve(ctx, srv, time.Second, l)

	dialOpts := []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(token.NewInsecurePerRPCCredentials(gen)),
	}
	nsClient, err := regclient.NewNSClient(ctx, regclient.WithURL(nsmgrURL), regclient.WithDialOptions(dialOpts...), regclient.WithoutHeal())
	if err != nil {
		return err
	}
	if _, err := nsClient.Register(ctx, &registry.NetworkService{Name: service, Payload: "IP"}); err != nil {
		return fmt.Errorf("register service %s: %w", service, err)
	}
	nseClient, err := regclient.NewNSEClient(ctx, regclient.WithURL(nsmgrURL), regclient.WithDialOptions(dialOpts...))
	if err != nil {
		return err
	}
	if _, err := nseClient.Register(ctx, &registry.NetworkServiceEndpoint{
		Name: name, NetworkServiceNames: []string{service}, Url: grpcutils.ListenerURL(l).String(),
	}); err != nil {
		return fmt.Errorf("register endpoint %s: %w", name, err)
	}
	if ready != nil {
		close(ready)
	}
	return <-served
}

func main() {
	nsmgrURL, err := grpcutils.ParseURL(envOr("NSMGR", "unix:///var/lib/networkservicemesh/nsm.io.sock"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "greeter: NSMGR:", err)
		os.Exit(2)
	}
	listen := &url.URL{Scheme: "unix", Path: filepath.Join(os.TempDir(), "greeter.sock")}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, "greeter", envOr("SERVICE", "greetings"), nsmgrURL, listen, nil); err != nil {
		fmt.Fprintln(os.Stderr, "greeter:", err)
		os.Exit(1)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
