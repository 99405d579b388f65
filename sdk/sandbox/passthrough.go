// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package sandbox

import (
	"context"
	"net/url"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/chains/client"
	"github.com/nsmesh/nsmesh/sdk/chains/endpoint"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/networkservice/connect"
	"github.com/nsmesh/nsmesh/sdk/networkservice/mechanisms"
	"github.com/nsmesh/nsmesh/sdk/networkservice/mechanisms/kernel"
	"github.com/nsmesh/nsmesh/sdk/networkservice/xconnect"
)

// NewPassthroughEndpoint starts an endpoint that serves nse's services by
// requesting next through its nsmgr, as a firewall or other service function
// of a chain does.
func (n *Node) NewPassthroughEndpoint(ctx context.Context, nse *registry.NetworkServiceEndpoint, next string) (*Endpoint, error) {
	d := n.d
	id, err := d.newIdentity(nse.GetName())
	if err != nil {
		return nil, err
	}
	e := &Endpoint{id: id, Counter: &Counter{}}
	e.name = nse.GetName()
	e.serverOpts = id.serverOptions()
	e.urls = []*url.URL{d.unixURL(nse.GetName())}
	logger := d.o.logger.WithField("component", e.name)
	e.build = func(ctx context.Context, s *grpc.Server) error {
		kernelServer, err := kernel.NewServer()
		if err != nil {
			return err
		}
		offer, err := kernel.NewClient()
		if err != nil {
			return err
		}
		onward, err := client.New(ctx, e.name, nil,
			client.AsPassthrough(),
			client.WithURL(n.NSMgr.UnixURL()),
			client.WithDialOptions(id.dialOptions()...),
			client.WithDialTimeout(time.Second),
			client.WithAdditionalFunctionality(xconnect.NewClient(nopDataplane{}, logger), offer),
			client.WithLogger(logger))
		if err != nil {
			return err
		}
		ep, err := endpoint.New(ctx, e.name, id.gen, endpoint.WithLogger(logger), endpoint.WithAdditionalFunctionality(
			&countingServer{c: e.Counter},
			mechanisms.NewServer(map[string]networkservice.NetworkServiceServer{"KERNEL": kernelServer}),
			&replaceService{next: next},
			connect.NewServer(onward),
		))
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

// replaceService sends the request on for the next service of the chain and
// gives the caller back its own service and endpoint name.
type replaceService struct {
	chain.ServerLink
	next string
}

func (r *replaceService) Request(ctx context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	c := req.GetConnection()
	service, self := c.GetNetworkService(), c.GetNetworkServiceEndpointName()
	c.NetworkService, c.NetworkServiceEndpointName = r.next, ""
	conn, err := r.Next().Request(ctx, req)
	if err != nil {
		return nil, err
	}
	conn.NetworkService, conn.NetworkServiceEndpointName = service, self
	return conn, nil
}

func (r *replaceService) Close(ctx context.Context, conn *networkservice.Connection) (*emptypb.Empty, error) {
	conn.NetworkService, conn.NetworkServiceEndpointName = r.next, ""
	return r.Next().Close(ctx, conn)
}

// nopDataplane programs nothing: a passthrough endpoint in the sandbox only
// relays the control plane.
type nopDataplane struct{}

func (nopDataplane) Program(context.Context, *xconnect.Pair) error   { return nil }
func (nopDataplane) Unprogram(context.Context, *xconnect.Pair) error { return nil }
