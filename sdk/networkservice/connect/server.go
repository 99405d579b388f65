// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package connect

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
)

// closeTimeout bounds the clean-up Close when the request had no deadline.
const closeTimeout = 15 * time.Second

// NewServer returns the bridge from a server chain into client, the client
// chain towards the next hop.
func NewServer(client networkservice.NetworkServiceClient) networkservice.NetworkServiceServer {
	return &server{client: client}
}

type server struct {
	chain.ServerLink
	client networkservice.NetworkServiceClient
}

func (s *server) Request(ctx context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	budget := closeTimeout
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); left > 0 {
			budget = left
		}
	}
	clientConn, err := s.client.Request(ctx, req.Clone())
	if err != nil {
		return nil, err
	}
	req.Connection = clientConn
	conn, err := s.Next().Request(ctx, req)
	if err != nil {
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), budget)
		defer cancel()
		_, _ = s.client.Close(closeCtx, clientConn)
		return nil, err
	}
	return conn, nil
}

func (s *server) Close(ctx context.Context, conn *networkservice.Connection) (*emptypb.Empty, error) {
	_, clientErr := s.client.Close(ctx, conn)
	out, err := s.Next().Close(ctx, conn)
	if err := firstError(clientErr, err); err != nil {
		return nil, err
	}
	return out, nil
}

// firstError keeps the gRPC status of the first failure intact; joining the
// errors would turn it into codes.Unknown at the edge.
func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

var _ networkservice.NetworkServiceServer = (*server)(nil)
