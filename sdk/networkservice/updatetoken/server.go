// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package updatetoken

import (
	"context"

	"github.com/sirupsen/logrus"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/token"
	"github.com/nsmesh/nsmesh/sdk/tools/log"
)

type server struct {
	chain.ServerLink
	gen    token.Generator
	logger logrus.FieldLogger
}

// NewServer returns the server element; gen signs this hop's tokens. A nil
// gen makes every Request fail with codes.Internal.
func NewServer(gen token.Generator, opts ...Option) networkservice.NetworkServiceServer {
	o := apply(opts)
	return &server{gen: gen, logger: o.logger}
}

func (s *server) Request(ctx context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	conn := req.GetConnection()
	if err := fromCaller(ctx, conn); err != nil {
		return nil, err
	}
	if err := own(conn, s.gen, peerAuthInfo(ctx)); err != nil {
		return nil, err
	}
	return s.Next().Request(ctx, req)
}

func (s *server) Close(ctx context.Context, conn *networkservice.Connection) (*emptypb.Empty, error) {
	if err := fromCaller(ctx, conn); err != nil {
		log.FromContext(ctx, s.logger).WithField("conn", conn.GetId()).Warnf("closing with the stored token of the caller: %v", err)
	}
	if err := own(conn, s.gen, peerAuthInfo(ctx)); err != nil {
		log.FromContext(ctx, s.logger).WithField("conn", conn.GetId()).Warnf("closing with the stored own token: %v", err)
	}
	return s.Next().Close(ctx, conn)
}

var _ networkservice.NetworkServiceServer = (*server)(nil)
