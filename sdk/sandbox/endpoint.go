// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package sandbox

import (
	"context"
	"fmt"
	"net/netip"
	"net/url"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/chains/endpoint"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/networkservice/ipam/point2point"
	"github.com/nsmesh/nsmesh/sdk/networkservice/mechanisms"
	"github.com/nsmesh/nsmesh/sdk/networkservice/mechanisms/kernel"
	regclient "github.com/nsmesh/nsmesh/sdk/registry/chains/client"
)

// Endpoint is a network service endpoint of a node.
type Endpoint struct {
	process
	id      *identity
	Current *endpoint.Endpoint
	// Prefix is where the endpoint's point-to-point IPAM allocates from.
	Prefix netip.Prefix
	// Counter counts the Requests and Closes that reached the endpoint's own
	// elements (after path, token and authorize checks).
	Counter *Counter

	// registerNS registers a network service with the endpoint's identity.
	registerNS func(ctx context.Context, ns *registry.NetworkService) error
	// running is the context of the current start and services what
	// RegisterService registered; both guarded by process.mu, which start
	// holds while it calls build.
	running  context.Context
	services []*registry.NetworkService
}

// RegisterService registers ns through the node's nsmgr with the endpoint's
// identity, the way an endpoint binary registers the services it serves:
// its registry client heals the registration while the endpoint runs, each
// Restart registers it again, and Stop abandons it (nothing unregisters
// it). It returns the error of the first registration.
func (e *Endpoint) RegisterService(ns *registry.NetworkService) error {
	e.mu.Lock()
	ctx := e.running
	e.mu.Unlock()
	if ctx == nil || ctx.Err() != nil {
		return fmt.Errorf("sandbox: endpoint %s is not running", e.name)
	}
	if err := e.registerNS(ctx, ns); err != nil {
		return fmt.Errorf("sandbox: endpoint %s: register network service %q: %w", e.name, ns.GetName(), err)
	}
	e.mu.Lock()
	e.services = append(e.services, proto.Clone(ns).(*registry.NetworkService))
	e.mu.Unlock()
	return nil
}

// Name returns the endpoint's name.
func (e *Endpoint) Name() string { return e.name }

// Stop kills the endpoint (its registration expires, it is not removed).
func (e *Endpoint) Stop() { e.stop() }

// Restart starts the endpoint again on the same socket and re-registers it.
func (e *Endpoint) Restart(ctx context.Context) error { e.stop(); return e.start(ctx) }

// NewEndpoint starts an endpoint registered as nse (its URL is filled in)
// whose chain ends with elems and a kernel mechanism.
func (n *Node) NewEndpoint(ctx context.Context, nse *registry.NetworkServiceEndpoint, elems ...networkservice.NetworkServiceServer) (*Endpoint, error) {
	d := n.d
	id, err := d.newIdentity(nse.GetName())
	if err != nil {
		return nil, err
	}
	e := &Endpoint{id: id, Counter: &Counter{}}
	e.name = nse.GetName()
	e.serverOpts = id.serverOptions()
	// Each endpoint hands out addresses from its own /24.
	d.endpoints++
	prefix := netip.PrefixFrom(netip.AddrFrom4([4]byte{169, 254, byte(d.endpoints), 0}), 24)
	e.Prefix = prefix
	e.urls = []*url.URL{d.unixURL(nse.GetName())}
	logger := d.o.logger.WithField("component", e.name)
	e.registerNS = func(ctx context.Context, ns *registry.NetworkService) error {
		c, err := regclient.NewNSClient(ctx,
			regclient.WithURL(n.NSMgr.UnixURL()),
			regclient.WithDialOptions(id.dialOptions()...),
			regclient.WithLogger(logger))
		if err != nil {
			return err
		}
		_, err = c.Register(ctx, proto.Clone(ns).(*registry.NetworkService))
		return err
	}
	e.build = func(ctx context.Context, s *grpc.Server) error {
		e.running = ctx
		for _, ns := range e.services {
			go func() {
				if err := e.registerNS(ctx, ns); err != nil && ctx.Err() == nil {
					logger.WithError(err).Errorf("sandbox: registering network service %q again failed", ns.GetName())
				}
			}()
		}
		kernelServer, err := kernel.NewServer()
		if err != nil {
			return err
		}
		// Fresh instances on every start: an element belongs to one chain.
		all := append([]networkservice.NetworkServiceServer{&countingServer{c: e.Counter}}, cloneElems(elems)...)
		ipam, err := point2point.NewServer([]netip.Prefix{prefix})
		if err != nil {
			return err
		}
		all = append(all, ipam, mechanisms.NewServer(map[string]networkservice.NetworkServiceServer{"KERNEL": kernelServer}))
		ep, err := endpoint.New(ctx, e.name, id.gen, endpoint.WithLogger(logger), endpoint.WithAdditionalFunctionality(all...))
		if err != nil {
			return err
		}
		ep.Register(s)
		e.Current = ep
		reg := proto.Clone(nse).(*registry.NetworkServiceEndpoint)
		reg.Url = e.urls[0].String()
		return register(ctx, n, id, reg, logger)
	}
	if err := e.start(ctx); err != nil {
		return nil, err
	}
	n.Endpoints = append(n.Endpoints, e)
	return e, nil
}

// ElementFactory makes a fresh element for each start of an endpoint.
type ElementFactory func() networkservice.NetworkServiceServer

func cloneElems(elems []networkservice.NetworkServiceServer) []networkservice.NetworkServiceServer {
	out := make([]networkservice.NetworkServiceServer, 0, len(elems))
	for _, e := range elems {
		if f, ok := e.(factoryElement); ok {
			out = append(out, f.f())
			continue
		}
		out = append(out, e)
	}
	return out
}

// Fresh wraps a factory so that every (re)start of an endpoint gets a new
// element; pass elements that keep state or embed a chain Link this way.
func Fresh(f ElementFactory) networkservice.NetworkServiceServer { return factoryElement{f: f} }

type factoryElement struct{ f ElementFactory }

func (factoryElement) Request(context.Context, *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	panic("sandbox: Fresh element used outside an endpoint")
}

func (factoryElement) Close(context.Context, *networkservice.Connection) (*emptypb.Empty, error) {
	panic("sandbox: Fresh element used outside an endpoint")
}

// Counter counts calls.
type Counter struct {
	requests, closes atomic.Int32
}

// Requests returns how many Requests arrived.
func (c *Counter) Requests() int { return int(c.requests.Load()) }

// Closes returns how many Closes arrived.
func (c *Counter) Closes() int { return int(c.closes.Load()) }

type countingServer struct {
	chain.ServerLink
	c *Counter
}

func (s *countingServer) Request(ctx context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	s.c.requests.Add(1)
	return s.Next().Request(ctx, req)
}

func (s *countingServer) Close(ctx context.Context, conn *networkservice.Connection) (*emptypb.Empty, error) {
	s.c.closes.Add(1)
	return s.Next().Close(ctx, conn)
}
