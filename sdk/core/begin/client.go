// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package begin

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/core/metadata"
)

// ReselectFunc prepares a stored request for a reselect event.
type ReselectFunc func(req *networkservice.NetworkServiceRequest)

// DefaultReselect forgets the endpoint and the mechanism so that the path is
// chosen anew.
func DefaultReselect(req *networkservice.NetworkServiceRequest) {
	c := req.GetConnection()
	c.Mechanism = nil
	c.NetworkServiceEndpointName = ""
	c.State = networkservice.State_RESELECT_REQUESTED
}

// ReselectSameEndpoint keeps the endpoint but picks a new path to it.
func ReselectSameEndpoint(req *networkservice.NetworkServiceRequest) {
	c := req.GetConnection()
	c.Mechanism = nil
	c.State = networkservice.State_RESELECT_REQUESTED
}

// Client is the client-side begin element.
type Client struct {
	chain.ClientLink
	t        *tracker
	reselect ReselectFunc
}

// NewClient returns a client-side begin element; reselect may be nil for
// DefaultReselect.
func NewClient(reselect ReselectFunc) *Client {
	if reselect == nil {
		reselect = DefaultReselect
	}
	return &Client{t: newTracker(metadata.Client), reselect: reselect}
}

// Len reports how many connections the element holds.
func (c *Client) Len() int { return c.t.len() }

// Request serialises the Request with the other calls of its connection. For an
// established connection whose caller knows the path only up to its own
// segment (a client resending its original request with the same id, or a
// passthrough whose client restarted and sent it so), the stored connection
// is the base, so the same path is refreshed: the caller's part of the path
// (with its fresh tokens) replaces the stored one, the stored rest of the
// path stays, and only changes the caller made on purpose (endpoint,
// context, labels, mechanism preferences) are applied. A caller that sends a
// longer path (a refresh through a passthrough, or a client resending what
// it got back) is taken as is.
func (c *Client) Request(ctx context.Context, req *networkservice.NetworkServiceRequest, opts ...grpc.CallOption) (*networkservice.Connection, error) {
	id := req.GetConnection().GetId()
	if id == "" {
		return nil, status.Error(codes.InvalidArgument, "begin: request has no connection id")
	}
	if c.t.reentrant(ctx, id) {
		return c.Next().Request(ctx, req, opts...)
	}
	e, err := c.t.lockEntry(ctx, id, true)
	if err != nil {
		return nil, err
	}
	defer e.release()
	ctx = c.t.withEntry(ctx, e, &clientEvents{c: c, e: e, opts: opts})
	if e.req != nil && !knowsPath(req) {
		req = merge(e.req, req)
	}
	conn, err := c.Next().Request(ctx, req, opts...)
	if err != nil {
		if e.req == nil {
			c.t.drop(e)
		}
		return nil, err
	}
	e.remember(ctx, req, conn)
	return conn.Clone(), nil
}

// knowsPath reports whether the caller sent the path beyond this hop: a
// passthrough forwards the fresh path (new tokens, new fd URLs) of its
// server half, and a client may resend the connection it got back. Only a
// caller that knows no more than the path up to this hop's own segment is
// merged into the stored connection.
func knowsPath(req *networkservice.NetworkServiceRequest) bool {
	c := req.GetConnection()
	return len(c.GetPath().GetPathSegments()) > int(c.GetPath().GetIndex())+1
}

// merge applies the intentional changes of req to the stored request.
func merge(stored, req *networkservice.NetworkServiceRequest) *networkservice.NetworkServiceRequest {
	out := stored.Clone()
	in := req.GetConnection()
	base := out.GetConnection()
	base.Path = joinPath(in.GetPath(), base.GetPath())
	if n := in.GetNetworkServiceEndpointName(); n != "" {
		base.NetworkServiceEndpointName = n
	}
	if in.GetContext() != nil && !proto.Equal(in.GetContext(), base.GetContext()) {
		base.Context = proto.Clone(in.GetContext()).(*networkservice.ConnectionContext)
	}
	if in.GetLabels() != nil {
		base.Labels = in.Clone().GetLabels()
	}
	switch {
	case in.GetMechanism() != nil:
		base.Mechanism = in.Clone().GetMechanism()
	case len(req.GetMechanismPreferences()) > 0:
		// The caller chooses its mechanism anew (a restarted client, maybe
		// in another namespace): the next hop picks from the preferences,
		// and keeps the interface when they name the same one.
		base.Mechanism = nil
	}
	if len(req.GetMechanismPreferences()) > 0 {
		out.MechanismPreferences = req.Clone().GetMechanismPreferences()
	}
	if in.GetState() == networkservice.State_RESELECT_REQUESTED {
		base.State = in.GetState()
		base.Mechanism = in.Clone().GetMechanism()
		base.NetworkServiceEndpointName = in.GetNetworkServiceEndpointName()
	}
	return out
}

// joinPath is the caller's part of the path, up to and including its index
// (this hop's segment, with the tokens the caller just made), followed by
// the stored segments after the stored index (the hops the connection went
// through, which recognise their segments). A caller without a path (begin
// used without updatepath) keeps the stored one.
func joinPath(caller, stored *networkservice.Path) *networkservice.Path {
	mine := caller.GetPathSegments()
	if len(mine) == 0 {
		if stored == nil {
			return nil
		}
		return proto.Clone(stored).(*networkservice.Path)
	}
	mine = mine[:min(int(caller.GetIndex())+1, len(mine))]
	rest := stored.GetPathSegments()
	if i := int(stored.GetIndex()) + 1; i < len(rest) {
		rest = rest[i:]
	} else {
		rest = nil
	}
	out := &networkservice.Path{Index: uint32(len(mine) - 1), PathSegments: make([]*networkservice.PathSegment, 0, len(mine)+len(rest))}
	for _, s := range mine {
		out.PathSegments = append(out.PathSegments, proto.Clone(s).(*networkservice.PathSegment))
	}
	for _, s := range rest {
		out.PathSegments = append(out.PathSegments, proto.Clone(s).(*networkservice.PathSegment))
	}
	return out
}

// Close closes the stored connection through the rest of the chain.
func (c *Client) Close(ctx context.Context, conn *networkservice.Connection, opts ...grpc.CallOption) (*emptypb.Empty, error) {
	id := conn.GetId()
	if c.t.reentrant(ctx, id) {
		return c.Next().Close(ctx, conn, opts...)
	}
	e, err := c.t.lockEntry(ctx, id, false)
	if err != nil || e == nil {
		return &emptypb.Empty{}, err
	}
	defer e.release()
	defer c.t.drop(e)
	if e.req == nil {
		return &emptypb.Empty{}, nil
	}
	_, err = c.Next().Close(c.t.withEntry(ctx, e, &clientEvents{c: c, e: e, opts: opts}), e.req.GetConnection(), opts...)
	return &emptypb.Empty{}, err
}

type clientEvents struct {
	c    *Client
	e    *entry
	opts []grpc.CallOption
}

func (f *clientEvents) Request(opts ...Option) <-chan error {
	return runEvent(f.e, opts, func(o *eventOptions) error {
		ctx, cancel := eventContext(f.e)
		defer cancel()
		req := f.e.req.Clone()
		if o.reselect {
			// Best effort: the old path is usually broken when we reselect.
			_, _ = f.c.Next().Close(ctx, req.GetConnection(), f.opts...)
			f.c.reselect(req)
		}
		conn, err := f.c.Next().Request(ctx, req, f.opts...)
		if err != nil {
			if o.reselect {
				// Keep the reselect intent so that the next attempt does not reuse
				// the dead path.
				f.e.req = req
			}
			return err
		}
		f.e.remember(f.e.ctx, req, conn)
		return nil
	})
}

func (f *clientEvents) Close(opts ...Option) <-chan error {
	return runEvent(f.e, opts, func(*eventOptions) error {
		ctx, cancel := eventContext(f.e)
		defer cancel()
		defer f.c.t.drop(f.e)
		_, err := f.c.Next().Close(ctx, f.e.req.GetConnection(), f.opts...)
		return err
	})
}

var _ networkservice.NetworkServiceClient = (*Client)(nil)
