// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package updatetoken

import (
	"context"

	"github.com/sirupsen/logrus"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/token"
	"github.com/nsmesh/nsmesh/sdk/tools/log"
)

type client struct {
	chain.ClientLink
	gen    token.Generator
	logger logrus.FieldLogger
}

// NewClient returns the client element that puts the hop's own token into
// its segment; gen should be the generator of the hop's per-RPC credentials.
// A nil gen makes every Request fail with codes.Internal.
func NewClient(gen token.Generator, opts ...Option) networkservice.NetworkServiceClient {
	o := apply(opts)
	return &client{gen: gen, logger: o.logger}
}

func (c *client) Request(ctx context.Context, req *networkservice.NetworkServiceRequest, opts ...grpc.CallOption) (*networkservice.Connection, error) {
	if err := own(req.GetConnection(), c.gen, nil); err != nil {
		return nil, err
	}
	return c.Next().Request(ctx, req, opts...)
}

func (c *client) Close(ctx context.Context, conn *networkservice.Connection, opts ...grpc.CallOption) (*emptypb.Empty, error) {
	if err := own(conn, c.gen, nil); err != nil {
		log.FromContext(ctx, c.logger).WithField("conn", conn.GetId()).Warnf("closing with the stored own token: %v", err)
	}
	return c.Next().Close(ctx, conn, opts...)
}

var _ networkservice.NetworkServiceClient = (*client)(nil)
