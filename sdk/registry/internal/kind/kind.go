// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package kind lets one generic element serve both registry APIs.
//
// The NetworkService and NetworkServiceEndpoint registries have the same
// shape and differ only in their message types. Server and Client describe
// that shape with the registration (R), query (Q) and response (P) types as
// parameters; Kind bundles the few operations on those messages that elements
// need. An element is written once as a generic type and instantiated twice,
// once with NS and once with NSE.
package kind

import (
	"context"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

// Server is the shape of both registry server interfaces.
type Server[R, Q, P any] interface {
	Register(context.Context, *R) (*R, error)
	Find(*Q, grpc.ServerStreamingServer[P]) error
	Unregister(context.Context, *R) (*emptypb.Empty, error)
}

// Client is the shape of both registry client interfaces.
type Client[R, Q, P any] interface {
	Register(context.Context, *R, ...grpc.CallOption) (*R, error)
	Find(context.Context, *Q, ...grpc.CallOption) (grpc.ServerStreamingClient[P], error)
	Unregister(context.Context, *R, ...grpc.CallOption) (*emptypb.Empty, error)
}

// Kind holds the operations on the messages of one registry API.
type Kind[R, Q, P any] struct {
	// Noun names a registration in messages: "network service" or
	// "network service endpoint".
	Noun string
	// Short is the abbreviation, for log fields: "ns" or "nse".
	Short string
	// Service is the full gRPC service name, for health and messages.
	Service string

	Name       func(*R) string
	Named      func(name string) *R
	Clone      func(*R) *R
	PathIDs    func(*R) []string
	SetPathIDs func(*R, []string)

	// Query returns the template and watch flag of a query; NewQuery builds one.
	Query    func(*Q) (*R, bool)
	NewQuery func(tmpl *R, watch bool) *Q

	// Response wraps a registration; Entry unwraps it.
	Response func(r *R, deleted bool) *P
	Entry    func(*P) (r *R, deleted bool)

	// Match reports whether r answers a query with template tmpl.
	Match func(tmpl, r *R) bool

	// GRPCClient makes the generated gRPC client of the API.
	GRPCClient func(grpc.ClientConnInterface) Client[R, Q, P]
}

// CheckName returns an InvalidArgument status when r has no name.
func (k *Kind[R, Q, P]) CheckName(r *R) error {
	if k.Name(r) == "" {
		return status.Errorf(codes.InvalidArgument, "registry: %s has no name", k.Noun)
	}
	return nil
}

// Describe names r for messages, e.g. `network service endpoint "nse-1"`.
func (k *Kind[R, Q, P]) Describe(r *R) string {
	return fmt.Sprintf("%s %q", k.Noun, k.Name(r))
}
