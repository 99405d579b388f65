// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package updatetoken

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/token"
)

// own puts a fresh token of this hop, made for peer, into path[index].
func own(conn *networkservice.Connection, gen token.Generator, peerInfo credentials.AuthInfo) error {
	if gen == nil {
		return status.Error(codes.Internal, "updatetoken: element built without a token generator")
	}
	cur := conn.GetCurrentPathSegment()
	if cur == nil {
		return status.Errorf(codes.Internal,
			"updatetoken: connection has no path segment at index %d: place updatepath before updatetoken",
			conn.GetPath().GetIndex())
	}
	tok, exp, err := gen.Generate(peerInfo)
	if err != nil {
		code := codes.Internal
		if errors.Is(err, token.ErrPeerID) {
			code = codes.Unauthenticated
		}
		return status.Errorf(code, "updatetoken: cannot make the token of segment %d (%s): %v",
			conn.GetPath().GetIndex(), cur.GetName(), err)
	}
	cur.Token, cur.Expires = tok, timestamppb.New(exp)
	return nil
}

// fromCaller puts the token the caller sent into path[index-1].
func fromCaller(ctx context.Context, conn *networkservice.Connection) error {
	prev := conn.GetPrevPathSegment()
	if prev == nil {
		return nil
	}
	tok, exp, ok, err := token.FromIncoming(ctx)
	if err != nil {
		return status.Errorf(codes.Unauthenticated, "updatetoken: %v: send each of %s and %s exactly once",
			err, token.MetadataKey, token.MetadataExpiresKey)
	}
	if ok {
		prev.Token, prev.Expires = tok, timestamppb.New(exp)
	}
	return nil
}

func peerAuthInfo(ctx context.Context) credentials.AuthInfo {
	if p, ok := peer.FromContext(ctx); ok {
		return p.AuthInfo
	}
	return nil
}
