// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package chains holds what the prebuilt registry chains share: the pair of
// servers a registry serves and Register, which puts them on a gRPC server
// with grpc.health.v1.
//
// The chains themselves are in the sub-packages: memory (the registry),
// nsmgr (an nsmgr's registry servers) and client (registry clients for
// endpoints, forwarders and the nsmgr's discovery).
package chains

import (
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/nsmesh/nsmesh/apis/registry"
)

// Servers are the two registry servers of one component.
type Servers struct {
	NS  registry.NetworkServiceRegistryServer
	NSE registry.NetworkServiceEndpointRegistryServer
}

// Health service names of the registry APIs.
const (
	NSServiceName  = "registry.NetworkServiceRegistry"
	NSEServiceName = "registry.NetworkServiceEndpointRegistry"
)

// Register registers ns and nse (either may be nil) and grpc.health.v1 on s,
// and marks the whole server ("") and each registered service SERVING. Call it
// once per gRPC server: the health service can be registered only once. The
// returned health server is for the other services of s (set them SERVING
// with SetServingStatus) and for shutdown (Shutdown marks all NOT_SERVING).
func Register(s *grpc.Server, ns registry.NetworkServiceRegistryServer, nse registry.NetworkServiceEndpointRegistryServer) *health.Server {
	h := health.NewServer()
	healthpb.RegisterHealthServer(s, h)
	if ns != nil {
		registry.RegisterNetworkServiceRegistryServer(s, ns)
		h.SetServingStatus(NSServiceName, healthpb.HealthCheckResponse_SERVING)
	}
	if nse != nil {
		registry.RegisterNetworkServiceEndpointRegistryServer(s, nse)
		h.SetServingStatus(NSEServiceName, healthpb.HealthCheckResponse_SERVING)
	}
	h.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	return h
}

// Register registers both servers; see the package function Register.
func (s *Servers) Register(g *grpc.Server) *health.Server {
	return Register(g, s.NS, s.NSE)
}
