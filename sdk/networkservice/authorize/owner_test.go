// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package authorize_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/core/begin"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/networkservice/authorize"
	"github.com/nsmesh/nsmesh/sdk/networkservice/updatetoken"
	"github.com/nsmesh/nsmesh/sdk/token"
	"github.com/nsmesh/nsmesh/sdk/tools/log"
)

// events keeps the EventFactory begin hands the chain.
type events struct {
	chain.ServerLink
	f begin.EventFactory
}

func (e *events) Request(ctx context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	e.f = begin.FromContext(ctx)
	return e.Next().Request(ctx, req)
}

func (e *events) Close(ctx context.Context, conn *networkservice.Connection) (*emptypb.Empty, error) {
	return e.Next().Close(ctx, conn)
}

// ownerHop is the server chain of one hop as the endpoint chain builds it
// (begin, updatetoken, authorize with the defaults), called over TLS by the
// previous hop.
type ownerHop struct {
	t   *testing.T
	h   *hops
	me  string // this hop
	ep  *endpoint
	ev  *events
	srv networkservice.NetworkServiceServer
	exp time.Time
}

func newOwnerHop(t *testing.T, h *hops, me string, opts ...authorize.Option) *ownerHop {
	t.Helper()
	gen, err := h.svid[me].Generator(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	o := &ownerHop{t: t, h: h, me: me, ep: &endpoint{}, ev: &events{}, exp: time.Now().Add(time.Hour)}
	o.srv = chain.NewServer(begin.NewServer(), o.ev, updatetoken.NewServer(gen, updatetoken.WithLogger(log.Discard())),
		authorize.NewServer(append([]authorize.Option{authorize.WithLogger(log.Discard())}, opts...)...), o.ep)
	return o
}

// from returns the context of a call by hop caller: its certificate as the
// gRPC peer and its own token for this hop in the metadata.
func (o *ownerHop) from(caller string) context.Context {
	o.t.Helper()
	ctx := peer.NewContext(context.Background(), &peer.Peer{AuthInfo: o.h.svid[caller].AuthInfo()})
	return metadata.NewIncomingContext(ctx, metadata.Pairs(
		token.MetadataKey, o.h.tok(o.t, caller, o.me, o.exp),
		token.MetadataExpiresKey, o.exp.UTC().Format(time.RFC3339Nano)))
}

func wantOwnerDenied(t *testing.T, err error, parts ...string) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != codes.PermissionDenied || !strings.Contains(st.Message(), "policy connection_owner") {
		t.Fatalf("got %v, want PermissionDenied by connection_owner", err)
	}
	for _, p := range parts {
		if !strings.Contains(st.Message(), p) {
			t.Fatalf("%q does not name %q", st.Message(), p)
		}
	}
}

func TestConnectionOwner(t *testing.T) {
	h := newHops(t)
	nsc, outsider := h.svid["nsc"].ID, h.outsider.ID

	t.Run("the owner refreshes and closes", func(t *testing.T) {
		o := newOwnerHop(t, h, "nsmgr")
		conn := h.path(t, 1, o.exp)
		for range 2 {
			if _, err := o.srv.Request(o.from("nsc"), &networkservice.NetworkServiceRequest{Connection: conn.Clone()}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := o.srv.Close(o.from("nsc"), conn.Clone()); err != nil {
			t.Fatal(err)
		}
		if o.ep.requests != 2 || o.ep.closes != 1 {
			t.Fatalf("endpoint saw %d requests, %d closes", o.ep.requests, o.ep.closes)
		}
	})

	t.Run("another member can neither re-request nor close", func(t *testing.T) {
		o := newOwnerHop(t, h, "nsmgr")
		conn := h.path(t, 1, o.exp)
		if _, err := o.srv.Request(o.from("nsc"), &networkservice.NetworkServiceRequest{Connection: conn.Clone()}); err != nil {
			t.Fatal(err)
		}
		// The outsider signs its own token (every token policy passes) and
		// sends the connection it learned.
		_, err := o.srv.Request(o.from("outsider"), &networkservice.NetworkServiceRequest{Connection: conn.Clone()})
		wantOwnerDenied(t, err, nsc, outsider, "may not re-request")
		_, err = o.srv.Close(o.from("outsider"), conn.Clone())
		wantOwnerDenied(t, err, nsc, outsider, "may not close")
		if o.ep.requests != 1 || o.ep.closes != 0 {
			t.Fatalf("endpoint saw %d requests, %d closes after the denied calls", o.ep.requests, o.ep.closes)
		}
		// The owner's connection is untouched.
		if _, err := o.srv.Request(o.from("nsc"), &networkservice.NetworkServiceRequest{Connection: conn.Clone()}); err != nil {
			t.Fatalf("owner's refresh after the attack: %v", err)
		}
		if _, err := o.srv.Close(o.from("nsc"), conn.Clone()); err != nil || o.ep.closes != 1 {
			t.Fatalf("owner's close: %v, endpoint closes %d", err, o.ep.closes)
		}
	})

	t.Run("a heal through another previous hop keeps the owner", func(t *testing.T) {
		o := newOwnerHop(t, h, "nse")
		conn := h.path(t, 3, o.exp)
		if _, err := o.srv.Request(o.from("fwd"), &networkservice.NetworkServiceRequest{Connection: conn.Clone()}); err != nil {
			t.Fatal(err)
		}
		// The nsmgr re-requests through another forwarder (here the outsider's
		// identity): segment 0 is still the client.
		healed := conn.Clone()
		healed.Path.PathSegments[1].Token = h.tok(t, "nsmgr", "outsider", o.exp)
		healed.Path.PathSegments[2].Name = "fwd-2"
		if _, err := o.srv.Request(o.from("outsider"), &networkservice.NetworkServiceRequest{Connection: healed.Clone()}); err != nil {
			t.Fatalf("heal through another forwarder: %v", err)
		}
		if _, err := o.srv.Close(o.from("outsider"), healed.Clone()); err != nil || o.ep.closes != 1 {
			t.Fatalf("close by the new forwarder: %v, endpoint closes %d", err, o.ep.closes)
		}
	})

	t.Run("begin's events (timeout close) carry the owner", func(t *testing.T) {
		for _, tt := range []struct {
			name string
			ctx  func(o *ownerHop) context.Context
		}{
			{"after a TLS request", func(o *ownerHop) context.Context { return o.from("nsc") }},
			{"after an in-process request (no peer, no metadata)", func(*ownerHop) context.Context { return context.Background() }},
		} {
			t.Run(tt.name, func(t *testing.T) {
				o := newOwnerHop(t, h, "nsmgr")
				conn := h.path(t, 1, o.exp)
				if _, err := o.srv.Request(tt.ctx(o), &networkservice.NetworkServiceRequest{Connection: conn.Clone()}); err != nil {
					t.Fatal(err)
				}
				if err := <-o.ev.f.Request(); err != nil {
					t.Fatalf("event Request: %v", err)
				}
				if err := <-o.ev.f.Close(); err != nil {
					t.Fatalf("event Close: %v", err)
				}
				if o.ep.requests != 2 || o.ep.closes != 1 {
					t.Fatalf("endpoint saw %d requests, %d closes", o.ep.requests, o.ep.closes)
				}
			})
		}
	})

	t.Run("a denied first Request records nobody", func(t *testing.T) {
		once := true
		denyFirst := authorize.NewPolicy("deny_first", func(context.Context, *authorize.Input) error {
			if once {
				once = false
				return errors.New("not yet")
			}
			return nil
		})
		o := newOwnerHop(t, h, "nsmgr", authorize.WithAdditionalPolicies(denyFirst))
		conn := h.path(t, 1, o.exp)
		if _, err := o.srv.Request(o.from("outsider"), &networkservice.NetworkServiceRequest{Connection: conn.Clone()}); status.Code(err) != codes.PermissionDenied {
			t.Fatalf("first request: %v", err)
		}
		if _, err := o.srv.Request(o.from("nsc"), &networkservice.NetworkServiceRequest{Connection: conn.Clone()}); err != nil {
			t.Fatalf("the owner after a denied stranger: %v", err)
		}
		_, err := o.srv.Request(o.from("outsider"), &networkservice.NetworkServiceRequest{Connection: conn.Clone()})
		wantOwnerDenied(t, err, nsc, outsider)
	})

	t.Run("without begin it cannot apply", func(t *testing.T) {
		ep := &endpoint{}
		srv := chain.NewServer(authorize.NewServer(authorize.WithLogger(log.Discard()), authorize.WithPolicies(authorize.ConnectionOwner())), ep)
		for _, signer := range []string{"nsc", "outsider"} {
			conn := h.path(t, 1, time.Now().Add(time.Hour))
			conn.Path.PathSegments[0].Token = h.tok(t, signer, "nsmgr", time.Now().Add(time.Hour))
			if _, err := srv.Request(context.Background(), &networkservice.NetworkServiceRequest{Connection: conn}); err != nil {
				t.Fatal(err)
			}
		}
	})
}
