// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package xconnect

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/tools/clienturlctx"
)

// IsLocal reports whether the next hop is on this node: it is reached over a
// unix socket (the local nsmgr hands out an endpoint's own socket), while
// remote hops are reached over tcp.
func IsLocal(ctx context.Context) bool {
	u := clienturlctx.ClientURL(ctx)
	return u != nil && u.Scheme == "unix"
}

// WhenLocal runs elems only when the next hop is local.
func WhenLocal(elems ...networkservice.NetworkServiceClient) networkservice.NetworkServiceClient {
	return newSwitch(true, elems)
}

// WhenRemote runs elems only when the next hop is remote.
func WhenRemote(elems ...networkservice.NetworkServiceClient) networkservice.NetworkServiceClient {
	return newSwitch(false, elems)
}

type localitySwitch struct {
	chain.ClientLink
	local bool
	inner networkservice.NetworkServiceClient
}

func newSwitch(local bool, elems []networkservice.NetworkServiceClient) *localitySwitch {
	s := &localitySwitch{local: local}
	// The branch rejoins this element's successor, so both paths continue the chain.
	s.inner = chain.NewClient(append(elems, &rejoin{s: s})...)
	return s
}

func (s *localitySwitch) Request(ctx context.Context, req *networkservice.NetworkServiceRequest, opts ...grpc.CallOption) (*networkservice.Connection, error) {
	if IsLocal(ctx) == s.local {
		return s.inner.Request(ctx, req, opts...)
	}
	return s.Next().Request(ctx, req, opts...)
}

func (s *localitySwitch) Close(ctx context.Context, conn *networkservice.Connection, opts ...grpc.CallOption) (*emptypb.Empty, error) {
	if IsLocal(ctx) == s.local {
		return s.inner.Close(ctx, conn, opts...)
	}
	return s.Next().Close(ctx, conn, opts...)
}

// rejoin ends a branch in the switch's successor.
type rejoin struct{ s *localitySwitch }

func (r *rejoin) Request(ctx context.Context, req *networkservice.NetworkServiceRequest, opts ...grpc.CallOption) (*networkservice.Connection, error) {
	return r.s.Next().Request(ctx, req, opts...)
}

func (r *rejoin) Close(ctx context.Context, conn *networkservice.Connection, opts ...grpc.CallOption) (*emptypb.Empty, error) {
	return r.s.Next().Close(ctx, conn, opts...)
}
