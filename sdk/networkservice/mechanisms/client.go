// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package mechanisms

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
)

// NewClient returns a dispatcher over the client sub-chains in m, keyed by
// mechanism type.
func NewClient(m map[string]networkservice.NetworkServiceClient) networkservice.NetworkServiceClient {
	c := &client{branches: make(map[string]networkservice.NetworkServiceClient, len(m))}
	tail := &clientTail{c: c}
	for typ, elem := range m {
		switch elem.(type) {
		case nil:
			c.branches[typ] = tail
		case chain.Linker[networkservice.NetworkServiceClient]:
			c.branches[typ] = chain.NewClient(elem, tail)
		default:
			c.branches[typ] = elem
		}
	}
	c.supported = supportedList(slices.Collect(maps.Keys(m)))
	return c
}

type client struct {
	chain.ClientLink
	branches  map[string]networkservice.NetworkServiceClient
	supported string
}

type clientTail struct{ c *client }

func (t *clientTail) Request(ctx context.Context, req *networkservice.NetworkServiceRequest, opts ...grpc.CallOption) (*networkservice.Connection, error) {
	return t.c.Next().Request(ctx, req, opts...)
}

func (t *clientTail) Close(ctx context.Context, conn *networkservice.Connection, opts ...grpc.CallOption) (*emptypb.Empty, error) {
	return t.c.Next().Close(ctx, conn, opts...)
}

func (c *client) Request(ctx context.Context, req *networkservice.NetworkServiceRequest, opts ...grpc.CallOption) (*networkservice.Connection, error) {
	if mech := req.GetConnection().GetMechanism(); mech != nil {
		b, ok := c.branches[mech.GetType()]
		if !ok {
			return nil, status.Errorf(codes.InvalidArgument, "mechanism %s is not supported; supported: %s", describe(mech), c.supported)
		}
		return b.Request(ctx, req, opts...)
	}
	var failures []string
	var lastErr error
	for _, pref := range req.GetMechanismPreferences() {
		b, ok := c.branches[pref.GetType()]
		if !ok {
			continue
		}
		attempt := req.Clone()
		attempt.MechanismPreferences = []*networkservice.Mechanism{pref.Clone()}
		conn, err := b.Request(ctx, attempt, opts...)
		if err == nil {
			return conn, nil
		}
		lastErr = err
		failures = append(failures, fmt.Sprintf("%s: %s", describe(pref), status.Convert(err).Message()))
		if ctx.Err() != nil {
			break
		}
	}
	return nil, dispatchError(req.GetMechanismPreferences(), c.supported, failures, lastErr)
}

func (c *client) Close(ctx context.Context, conn *networkservice.Connection, opts ...grpc.CallOption) (*emptypb.Empty, error) {
	if b, ok := c.branches[conn.GetMechanism().GetType()]; ok {
		return b.Close(ctx, conn, opts...)
	}
	return c.Next().Close(ctx, conn, opts...)
}

var _ networkservice.NetworkServiceClient = (*client)(nil)
