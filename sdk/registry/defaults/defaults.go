// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package defaults

import (
	"context"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/nsmesh/nsmesh/apis/networkservice/payload"
	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/core/metadata"
)

// NewPayloadServer sets the payload of network services registered without
// one; an empty p means payload.IP.
func NewPayloadServer(p string) registry.NetworkServiceRegistryServer {
	if p == "" {
		p = payload.IP
	}
	return &payloadServer{payload: p}
}

type payloadServer struct {
	chain.NSServerLink
	payload string
}

func (s *payloadServer) Register(ctx context.Context, ns *registry.NetworkService) (*registry.NetworkService, error) {
	if ns.GetPayload() == "" {
		ns = proto.Clone(ns).(*registry.NetworkService)
		ns.Payload = s.payload
	}
	return s.Next().Register(ctx, ns)
}

func (s *payloadServer) Find(q *registry.NetworkServiceQuery, srv grpc.ServerStreamingServer[registry.NetworkServiceResponse]) error {
	return s.Next().Find(q, srv)
}

func (s *payloadServer) Unregister(ctx context.Context, ns *registry.NetworkService) (*emptypb.Empty, error) {
	return s.Next().Unregister(ctx, ns)
}

// NewRegistrationTimeServer keeps initial_registration_time of endpoints;
// now may be nil for time.Now.
func NewRegistrationTimeServer(now func() time.Time) registry.NetworkServiceEndpointRegistryServer {
	if now == nil {
		now = time.Now
	}
	return &registrationTimeServer{now: now}
}

type registrationTimeServer struct {
	chain.NSEServerLink
	now func() time.Time
}

var firstKey = metadata.NewKey[*timestamppb.Timestamp]("defaults.initialRegistrationTime")

func (s *registrationTimeServer) Register(ctx context.Context, nse *registry.NetworkServiceEndpoint) (*registry.NetworkServiceEndpoint, error) {
	first, known := firstKey.Load(ctx, metadata.Server)
	if !known {
		first = nse.GetInitialRegistrationTime()
		if first == nil {
			first = timestamppb.New(s.now())
		}
	}
	nse = proto.Clone(nse).(*registry.NetworkServiceEndpoint)
	nse.InitialRegistrationTime = proto.Clone(first).(*timestamppb.Timestamp)
	resp, err := s.Next().Register(ctx, nse)
	if err != nil {
		return nil, err
	}
	if !known {
		firstKey.Store(ctx, metadata.Server, first)
	}
	return resp, nil
}

func (s *registrationTimeServer) Find(q *registry.NetworkServiceEndpointQuery, srv grpc.ServerStreamingServer[registry.NetworkServiceEndpointResponse]) error {
	return s.Next().Find(q, srv)
}

func (s *registrationTimeServer) Unregister(ctx context.Context, nse *registry.NetworkServiceEndpoint) (*emptypb.Empty, error) {
	return s.Next().Unregister(ctx, nse)
}

var (
	_ registry.NetworkServiceRegistryServer         = (*payloadServer)(nil)
	_ registry.NetworkServiceEndpointRegistryServer = (*registrationTimeServer)(nil)
)
