// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package fakes

import (
	"fmt"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/token"
)

// TLSHop is one NetworkService server reached over loopback TCP with mTLS and
// per-RPC path tokens: the smallest real gRPC hop for path/token tests.
type TLSHop struct {
	// Client calls the server as the client SVID, sending tokens from the
	// generator given to ServeTLSHop.
	Client networkservice.NetworkServiceClient
	srv    *grpc.Server
	cc     *grpc.ClientConn
	done   chan struct{}
}

// ServeTLSHop serves srv as server and dials it as client, trusting ca.
// Stop must be called.
func ServeTLSHop(srv networkservice.NetworkServiceServer, ca *SPIFFECA, server, client *SVID, gen token.Generator) (*TLSHop, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fakes: listen: %w", err)
	}
	gs := grpc.NewServer(grpc.Creds(credentials.NewTLS(server.TLSConfig(ca))))
	networkservice.RegisterNetworkServiceServer(gs, srv)
	h := &TLSHop{srv: gs, done: make(chan struct{})}
	go func() { defer close(h.done); _ = gs.Serve(l) }()
	h.cc, err = grpc.NewClient(l.Addr().String(),
		grpc.WithTransportCredentials(credentials.NewTLS(client.TLSConfig(ca))),
		grpc.WithPerRPCCredentials(token.NewPerRPCCredentials(gen)))
	if err != nil {
		h.Stop()
		return nil, fmt.Errorf("fakes: dial: %w", err)
	}
	h.Client = networkservice.NewNetworkServiceClient(h.cc)
	return h, nil
}

// Stop closes the client and the server and waits for the server to end.
func (h *TLSHop) Stop() {
	if h.cc != nil {
		_ = h.cc.Close()
	}
	h.srv.Stop()
	<-h.done
}
