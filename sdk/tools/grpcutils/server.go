// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package grpcutils

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// RegisterHealth registers grpc.health.v1 on srv and marks every service
// already registered on srv, and the server as a whole, SERVING. Call it after
// registering the services.
func RegisterHealth(srv *grpc.Server) *health.Server {
	h := health.NewServer()
	healthpb.RegisterHealthServer(srv, h)
	for name := range srv.GetServiceInfo() {
		h.SetServingStatus(name, healthpb.HealthCheckResponse_SERVING)
	}
	h.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	return h
}

// DefaultStopTimeout bounds a graceful stop before open streams are cut.
const DefaultStopTimeout = 5 * time.Second

// Serve serves srv on every listener until ctx is done or a listener fails,
// then stops gracefully (open streams get stopTimeout to finish, or
// DefaultStopTimeout when it is 0). The returned channel yields the first
// serving error, or nil, and is closed once the server has stopped.
func Serve(ctx context.Context, srv *grpc.Server, stopTimeout time.Duration, listeners ...net.Listener) <-chan error {
	if stopTimeout == 0 {
		stopTimeout = DefaultStopTimeout
	}
	out := make(chan error, 1)
	errs := make(chan error, len(listeners))
	var wg sync.WaitGroup
	for _, l := range listeners {
		wg.Go(func() {
			if err := srv.Serve(l); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
				errs <- err
			}
		})
	}
	go func() {
		defer close(out)
		var err error
		select {
		case <-ctx.Done():
		case err = <-errs:
		}
		done := make(chan struct{})
		go func() { srv.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-time.After(stopTimeout):
			srv.Stop()
			<-done
		}
		wg.Wait()
		out <- err
	}()
	return out
}
