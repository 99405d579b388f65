// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package authorize

import (
	"context"
	"crypto/x509"

	"google.golang.org/grpc/peer"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/token"
)

type server struct {
	chain.ServerLink
	o options
}

// NewServer returns the server element, with ServerPolicies unless options
// say otherwise.
func NewServer(opts ...Option) networkservice.NetworkServiceServer {
	return &server{o: apply(ServerPolicies(), opts)}
}

func (s *server) Request(ctx context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	if err := s.authorize(ctx, req.GetConnection(), false); err != nil {
		return nil, err
	}
	return s.Next().Request(ctx, req)
}

func (s *server) Close(ctx context.Context, conn *networkservice.Connection) (*emptypb.Empty, error) {
	if err := s.authorize(ctx, conn, true); err != nil {
		return nil, err
	}
	return s.Next().Close(ctx, conn)
}

func (s *server) authorize(ctx context.Context, conn *networkservice.Connection, closing bool) error {
	if len(s.o.policies) == 0 {
		return nil
	}
	in, err := s.o.input(conn, true, callerCert(ctx), closing)
	if err != nil {
		return err
	}
	return s.o.check(ctx, in, conn)
}

func callerCert(ctx context.Context) *x509.Certificate {
	if p, ok := peer.FromContext(ctx); ok {
		return token.PeerCertificate(p.AuthInfo)
	}
	return nil
}

var _ networkservice.NetworkServiceServer = (*server)(nil)
