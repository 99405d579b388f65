// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package wireguard

import (
	"context"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	apiwg "github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/wireguard"
	"github.com/nsmesh/nsmesh/apis/networkservice/payload"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
)

// MechanismLabel is the connection label by which a client chooses the
// remote tunnel: "wireguard", or the plain tunnel's type in lower case
// ("vxlan"). Without it, IP payload goes over WireGuard and ETHERNET payload
// over the plain tunnel.
const MechanismLabel = "nsm.mechanism"

// SelectOption configures NewSelectClient.
type SelectOption func(*selectOptions)

type selectOptions struct {
	fallback bool
}

// WithPlainFallback offers the plain tunnel after WireGuard for IP payload
// when the connection does not name a mechanism, so that a peer forwarder
// without WireGuard still connects, unencrypted. Off by default: a peer that
// cannot do WireGuard then fails the Request.
func WithPlainFallback() SelectOption { return func(o *selectOptions) { o.fallback = true } }

type choice struct{ wg, plain bool }

type choiceKey struct{}

type selectClient struct {
	chain.ClientLink
	hasWG, hasPlain bool
	plainType       string
	o               selectOptions
	inner           networkservice.NetworkServiceClient
}

// NewSelectClient decides, per connection, which of two tunnel offers runs:
// wg (this package's NewClient) or plain (the client of the mechanism type
// plainType, e.g. the VXLAN client and "VXLAN"). Either may be nil when the
// forwarder cannot offer it. On refresh and Close the offer that was agreed
// runs again.
func NewSelectClient(wg, plain networkservice.NetworkServiceClient, plainType string, opts ...SelectOption) networkservice.NetworkServiceClient {
	s := &selectClient{hasWG: wg != nil, hasPlain: plain != nil, plainType: strings.ToUpper(plainType)}
	for _, opt := range opts {
		opt(&s.o)
	}
	s.inner = chain.NewClient(
		newGate(func(c choice) bool { return c.wg }, wg),
		newGate(func(c choice) bool { return c.plain }, plain),
		&selectTail{s: s},
	)
	return s
}

func (s *selectClient) Request(ctx context.Context, req *networkservice.NetworkServiceRequest, opts ...grpc.CallOption) (*networkservice.Connection, error) {
	c, err := s.decide(req)
	if err != nil {
		return nil, err
	}
	return s.inner.Request(context.WithValue(ctx, choiceKey{}, c), req, opts...)
}

func (s *selectClient) Close(ctx context.Context, conn *networkservice.Connection, opts ...grpc.CallOption) (*emptypb.Empty, error) {
	return s.inner.Close(context.WithValue(ctx, choiceKey{}, s.agreed(conn.GetMechanism())), conn, opts...)
}

// agreed runs the element of an already chosen mechanism only.
func (s *selectClient) agreed(m *networkservice.Mechanism) choice {
	switch m.GetType() {
	case apiwg.MECHANISM:
		return choice{wg: s.hasWG}
	case s.plainType:
		return choice{plain: s.hasPlain}
	}
	return choice{}
}

func (s *selectClient) decide(req *networkservice.NetworkServiceRequest) (choice, error) {
	conn := req.GetConnection()
	if m := conn.GetMechanism(); m != nil {
		return s.agreed(m), nil
	}
	ethernet := conn.GetPayload() == payload.Ethernet
	asked := strings.ToLower(conn.GetLabels()[MechanismLabel])
	switch asked {
	case "":
		switch {
		case ethernet || !s.hasWG:
			return s.needPlain(conn, "")
		case s.o.fallback && s.hasPlain:
			return choice{wg: true, plain: true}, nil
		}
		return choice{wg: true}, nil
	case strings.ToLower(apiwg.MECHANISM):
		if ethernet {
			return choice{}, status.Errorf(codes.InvalidArgument,
				"connection %s asks for WireGuard (label %s=%s) but its payload is ETHERNET; WireGuard carries IP only",
				conn.GetId(), MechanismLabel, asked)
		}
		if !s.hasWG {
			return choice{}, status.Errorf(codes.FailedPrecondition,
				"connection %s asks for WireGuard (label %s=%s) but this forwarder has WireGuard disabled", conn.GetId(), MechanismLabel, asked)
		}
		return choice{wg: true}, nil
	case strings.ToLower(s.plainType):
		return s.needPlain(conn, asked)
	}
	return choice{}, status.Errorf(codes.InvalidArgument, "connection %s: label %s=%q names no remote mechanism; want %q or %q",
		conn.GetId(), MechanismLabel, asked, strings.ToLower(apiwg.MECHANISM), strings.ToLower(s.plainType))
}

func (s *selectClient) needPlain(conn *networkservice.Connection, asked string) (choice, error) {
	if !s.hasPlain {
		why := "its payload is " + conn.GetPayload()
		if asked != "" {
			why = "it carries the label " + MechanismLabel + "=" + asked
		}
		return choice{}, status.Errorf(codes.FailedPrecondition, "connection %s needs a %s tunnel (%s) but this forwarder cannot offer one",
			conn.GetId(), s.plainType, why)
	}
	return choice{plain: true}, nil
}

// gate runs its element only when the connection's choice selects it.
type gate struct {
	chain.ClientLink
	on    func(choice) bool
	inner networkservice.NetworkServiceClient
}

func newGate(on func(choice) bool, elem networkservice.NetworkServiceClient) networkservice.NetworkServiceClient {
	if elem == nil {
		return nil
	}
	g := &gate{on: on}
	g.inner = chain.NewClient(elem, &gateTail{g: g})
	return g
}

func (g *gate) selected(ctx context.Context) bool {
	c, _ := ctx.Value(choiceKey{}).(choice)
	return g.on(c)
}

func (g *gate) Request(ctx context.Context, req *networkservice.NetworkServiceRequest, opts ...grpc.CallOption) (*networkservice.Connection, error) {
	if g.selected(ctx) {
		return g.inner.Request(ctx, req, opts...)
	}
	return g.Next().Request(ctx, req, opts...)
}

func (g *gate) Close(ctx context.Context, conn *networkservice.Connection, opts ...grpc.CallOption) (*emptypb.Empty, error) {
	if g.selected(ctx) {
		return g.inner.Close(ctx, conn, opts...)
	}
	return g.Next().Close(ctx, conn, opts...)
}

// gateTail rejoins a gate's successor after its element.
type gateTail struct{ g *gate }

func (t *gateTail) Request(ctx context.Context, req *networkservice.NetworkServiceRequest, opts ...grpc.CallOption) (*networkservice.Connection, error) {
	return t.g.Next().Request(ctx, req, opts...)
}

func (t *gateTail) Close(ctx context.Context, conn *networkservice.Connection, opts ...grpc.CallOption) (*emptypb.Empty, error) {
	return t.g.Next().Close(ctx, conn, opts...)
}

// selectTail rejoins the select element's successor.
type selectTail struct{ s *selectClient }

func (t *selectTail) Request(ctx context.Context, req *networkservice.NetworkServiceRequest, opts ...grpc.CallOption) (*networkservice.Connection, error) {
	return t.s.Next().Request(ctx, req, opts...)
}

func (t *selectTail) Close(ctx context.Context, conn *networkservice.Connection, opts ...grpc.CallOption) (*emptypb.Empty, error) {
	return t.s.Next().Close(ctx, conn, opts...)
}

var _ networkservice.NetworkServiceClient = (*selectClient)(nil)
