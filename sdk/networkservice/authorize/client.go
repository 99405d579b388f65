// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package authorize

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/peer"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/core/metadata"
	"github.com/nsmesh/nsmesh/sdk/token"
	"github.com/nsmesh/nsmesh/sdk/tools/log"
)

// established marks a connection this client has authorized once, so that a
// later denial is a refresh, which must not close it.
var established = metadata.NewKey[struct{}]("authorize.established")

type client struct {
	chain.ClientLink
	o options
}

// NewClient returns the client element, with ClientPolicies unless options
// say otherwise.
func NewClient(opts ...Option) networkservice.NetworkServiceClient {
	return &client{o: apply(ClientPolicies(), opts)}
}

func (c *client) Request(ctx context.Context, req *networkservice.NetworkServiceRequest, opts ...grpc.CallOption) (*networkservice.Connection, error) {
	if len(c.o.policies) == 0 {
		return c.Next().Request(ctx, req, opts...)
	}
	var srv peer.Peer
	conn, err := c.Next().Request(ctx, req, append(opts, grpc.Peer(&srv))...)
	if err != nil {
		return nil, err
	}
	in, err := c.o.input(conn, false, token.PeerCertificate(srv.AuthInfo), false)
	if err == nil {
		err = c.o.check(ctx, in, conn)
	}
	if err != nil {
		if _, refresh := established.Load(ctx, metadata.Client); !refresh {
			if _, cerr := c.Next().Close(ctx, conn, opts...); cerr != nil {
				log.FromContext(ctx, c.o.logger).WithField("conn", conn.GetId()).
					Warnf("authorize: closing the refused connection: %v", cerr)
			}
		}
		return nil, err
	}
	established.Store(ctx, metadata.Client, struct{}{})
	return conn, nil
}

func (c *client) Close(ctx context.Context, conn *networkservice.Connection, opts ...grpc.CallOption) (*emptypb.Empty, error) {
	established.Delete(ctx, metadata.Client)
	return c.Next().Close(ctx, conn, opts...)
}

var _ networkservice.NetworkServiceClient = (*client)(nil)
