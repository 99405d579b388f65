// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package fakeworkload is a SPIFFE Workload API server for tests: it serves
// FetchX509SVID on a unix socket with whatever SVID the test sets, and
// pushes every new one to the open streams as a SPIRE agent pushes
// rotations. It checks the workload.spiffe.io header as the agent does;
// there is no attestation (every caller gets the same SVID).
package fakeworkload

import (
	"crypto/x509"
	"fmt"
	"net"
	"sync"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Server is a fake Workload API.
type Server struct {
	workload.UnimplementedSpiffeWorkloadAPIServer
	addr string
	srv  *grpc.Server
	done chan struct{}

	mu      sync.Mutex
	resp    *workload.X509SVIDResponse
	changed chan struct{} // closed and replaced on every Set
}

// Start serves on the unix socket path until Stop.
func Start(path string) (*Server, error) {
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("fakeworkload: %w", err)
	}
	s := &Server{addr: "unix://" + path, srv: grpc.NewServer(), done: make(chan struct{}), changed: make(chan struct{})}
	workload.RegisterSpiffeWorkloadAPIServer(s.srv, s)
	go func() { defer close(s.done); _ = s.srv.Serve(l) }()
	return s, nil
}

// Addr is the socket as SPIFFE_ENDPOINT_SOCKET wants it (unix:///path).
func (s *Server) Addr() string { return s.addr }

// Set makes svid (with bundle as its trust domain's bundle) the identity
// served, and pushes it to every open stream.
func (s *Server) Set(svid *x509svid.SVID, bundle *x509bundle.Bundle) error {
	key, err := x509.MarshalPKCS8PrivateKey(svid.PrivateKey)
	if err != nil {
		return fmt.Errorf("fakeworkload: %w", err)
	}
	var chain, roots []byte
	for _, c := range svid.Certificates {
		chain = append(chain, c.Raw...)
	}
	for _, c := range bundle.X509Authorities() {
		roots = append(roots, c.Raw...)
	}
	resp := &workload.X509SVIDResponse{Svids: []*workload.X509SVID{{
		SpiffeId: svid.ID.String(), X509Svid: chain, X509SvidKey: key, Bundle: roots,
	}}}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resp = resp
	close(s.changed)
	s.changed = make(chan struct{})
	return nil
}

// FetchX509SVID implements the Workload API: the current SVID, then every
// new one, until the caller goes away.
func (s *Server) FetchX509SVID(_ *workload.X509SVIDRequest, stream grpc.ServerStreamingServer[workload.X509SVIDResponse]) error {
	md, _ := metadata.FromIncomingContext(stream.Context())
	if v := md.Get("workload.spiffe.io"); len(v) != 1 || v[0] != "true" {
		return status.Error(codes.InvalidArgument, "security header missing from request")
	}
	for {
		s.mu.Lock()
		resp, changed := s.resp, s.changed
		s.mu.Unlock()
		if resp != nil {
			if err := stream.Send(resp); err != nil {
				return err
			}
		}
		select {
		case <-stream.Context().Done():
			return nil
		case <-changed:
		}
	}
}

// Stop ends the server and its streams.
func (s *Server) Stop() {
	s.srv.Stop()
	<-s.done
}
