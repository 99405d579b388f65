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
	"google.golang.org/grpc/status"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/core/begin"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/networkservice/authorize"
	"github.com/nsmesh/nsmesh/sdk/networkservice/updatepath"
	"github.com/nsmesh/nsmesh/sdk/networkservice/updatetoken"
	"github.com/nsmesh/nsmesh/sdk/tools/fakes"
	"github.com/nsmesh/nsmesh/sdk/tools/log"
)

func TestServer(t *testing.T) {
	h := newHops(t)
	now := time.Now()
	exp := now.Add(time.Hour)
	at := func(index uint32, change func(c *networkservice.Connection)) *networkservice.Connection {
		c := h.path(t, index, exp)
		if change != nil {
			change(c)
		}
		return c
	}
	expire := func(i int) func(c *networkservice.Connection) {
		return func(c *networkservice.Connection) {
			c.Path.PathSegments[i].Token = h.tok(t, names[i], names[min(i+1, 3)], now.Add(-time.Second))
		}
	}
	deny := authorize.NewPolicy("deny_all", func(context.Context, *authorize.Input) error { return errors.New("no one passes") })
	broken := authorize.NewPolicy("broken", func(context.Context, *authorize.Input) error { return status.Error(codes.Internal, "cannot evaluate") })

	tests := []struct {
		name      string
		opts      []authorize.Option
		conn      *networkservice.Connection
		caller    string // "" for no gRPC peer
		wantReq   codes.Code
		wantMsg   string
		wantClose codes.Code
	}{
		{name: "good left side", conn: at(2, nil), caller: "nsmgr"},
		{name: "no peer: signature not checked", conn: at(2, nil)},
		{name: "right side is not checked", conn: at(2, func(c *networkservice.Connection) { c.Path.PathSegments[3].Token = "garbage" }), caller: "nsmgr"},
		{
			name: "expired token on the left", conn: at(2, expire(1)), caller: "nsmgr",
			wantReq: codes.PermissionDenied, wantMsg: "authorize: policy tokens_unexpired: token of segment 1 (nsmgr) expired at",
		},
		{
			name: "caller is not who signed the previous token", conn: at(2, nil), caller: "outsider",
			wantReq: codes.PermissionDenied, wantMsg: "authorize: policy prev_token_signed:", wantClose: codes.PermissionDenied,
		},
		{
			name: "index outside the path", conn: at(2, func(c *networkservice.Connection) { c.Path.Index = 9 }),
			wantReq: codes.InvalidArgument, wantMsg: "authorize: path index 9", wantClose: codes.InvalidArgument,
		},
		{name: "Any allows garbage", opts: []authorize.Option{authorize.Any()}, conn: at(2, func(c *networkservice.Connection) {
			c.Path.PathSegments[0].Token = "garbage"
			c.Path.Index = 9
		}), caller: "outsider"},
		{
			name: "custom policy", opts: []authorize.Option{authorize.WithPolicies(deny)}, conn: at(2, nil),
			wantReq: codes.PermissionDenied, wantMsg: "authorize: policy deny_all: no one passes", wantClose: codes.PermissionDenied,
		},
		{
			name: "additional policy runs after the defaults", opts: []authorize.Option{authorize.WithAdditionalPolicies(deny)}, conn: at(2, nil), caller: "nsmgr",
			wantReq: codes.PermissionDenied, wantMsg: "authorize: policy deny_all: no one passes", wantClose: codes.PermissionDenied,
		},
		{
			name: "defaults deny before additional policies run", opts: []authorize.Option{authorize.WithAdditionalPolicies(broken)}, conn: at(2, nil), caller: "outsider",
			wantReq: codes.PermissionDenied, wantMsg: "prev_token_signed", wantClose: codes.PermissionDenied,
		},
		{
			name: "a policy's own status code is kept", opts: []authorize.Option{authorize.WithAdditionalPolicies(broken)}, conn: at(2, nil), caller: "nsmgr",
			wantReq: codes.Internal, wantMsg: "authorize: policy broken: cannot evaluate", wantClose: codes.Internal,
		},
		{
			name: "Any keeps additional policies", opts: []authorize.Option{authorize.Any(), authorize.WithAdditionalPolicies(deny)}, conn: at(2, nil), caller: "outsider",
			wantReq: codes.PermissionDenied, wantMsg: "deny_all", wantClose: codes.PermissionDenied,
		},
		{
			name: "clock: tokens seen from after their expiry", opts: []authorize.Option{authorize.WithClock(func() time.Time { return exp })},
			conn: at(2, nil), caller: "nsmgr", wantReq: codes.PermissionDenied, wantMsg: "tokens_unexpired",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep := &endpoint{}
			srv := chain.NewServer(authorize.NewServer(append([]authorize.Option{authorize.WithLogger(log.Discard())}, tt.opts...)...), ep)
			ctx := context.Background()
			if tt.caller != "" {
				ctx = h.peerCtx(tt.caller)
			}
			_, err := srv.Request(ctx, &networkservice.NetworkServiceRequest{Connection: tt.conn.Clone()})
			if status.Code(err) != tt.wantReq || !strings.Contains(status.Convert(err).Message(), tt.wantMsg) {
				t.Fatalf("Request: %v, want %v %q", err, tt.wantReq, tt.wantMsg)
			}
			if want := map[bool]int{true: 1, false: 0}[tt.wantReq == codes.OK]; ep.requests != want {
				t.Errorf("next saw %d requests, want %d", ep.requests, want)
			}
			// Close: the same checks except expiry.
			_, err = srv.Close(ctx, tt.conn.Clone())
			if status.Code(err) != tt.wantClose {
				t.Fatalf("Close: %v, want %v", err, tt.wantClose)
			}
			if want := map[bool]int{true: 1, false: 0}[tt.wantClose == codes.OK]; ep.closes != want {
				t.Errorf("next saw %d closes, want %d", ep.closes, want)
			}
		})
	}
}

func TestClient(t *testing.T) {
	h := newHops(t)
	now := time.Now()
	good := h.path(t, 0, now.Add(time.Hour))
	expired := h.path(t, 0, now.Add(time.Hour))
	expired.Path.PathSegments[3].Token = h.tok(t, "nse", "fwd", now.Add(-time.Second))

	tests := []struct {
		name       string
		peer       string
		responses  []*networkservice.Connection
		wantCodes  []codes.Code // per Request
		wantCloses int          // closes caused by authorize
	}{
		{name: "good path", peer: "nsmgr", responses: []*networkservice.Connection{good}, wantCodes: []codes.Code{codes.OK}},
		{name: "whole path checked: expired NSE token", peer: "nsmgr", responses: []*networkservice.Connection{expired},
			wantCodes: []codes.Code{codes.PermissionDenied}, wantCloses: 1},
		{name: "server did not sign the next token", peer: "fwd", responses: []*networkservice.Connection{good},
			wantCodes: []codes.Code{codes.PermissionDenied}, wantCloses: 1},
		{name: "denied refresh is not closed", peer: "nsmgr", responses: []*networkservice.Connection{good, expired},
			wantCodes: []codes.Code{codes.OK, codes.PermissionDenied}},
		{name: "refresh after a denied refresh works", peer: "nsmgr", responses: []*networkservice.Connection{good, expired, good},
			wantCodes: []codes.Code{codes.OK, codes.PermissionDenied, codes.OK}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := &server{peer: h.svid[tt.peer], responses: tt.responses}
			c := chain.NewClient(begin.NewClient(nil), authorize.NewClient(authorize.WithLogger(log.Discard())), srv)
			for i, want := range tt.wantCodes {
				_, err := c.Request(context.Background(), &networkservice.NetworkServiceRequest{Connection: good.Clone()})
				if status.Code(err) != want {
					t.Fatalf("request %d: %v, want %v", i, err, want)
				}
			}
			if srv.closes != tt.wantCloses {
				t.Errorf("closes = %d, want %d", srv.closes, tt.wantCloses)
			}
		})
	}
}

// Over real mTLS gRPC: the default policies on both sides accept an honest
// path and refuse a hop that signs with a key other than its certificate's.
func TestOverGRPC(t *testing.T) {
	h := newHops(t)
	// Same SPIFFE ID as the NSE, other key: only the signature tells.
	impostor, err := h.ca.Issue(h.svid["nse"].ID, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name           string
		nscSigner      *fakes.SVID // signs the NSC's per-RPC tokens
		nseSigner      *fakes.SVID // signs the NSE's own tokens
		wantCode       codes.Code
		wantMsg        string
		wantNSERequest bool
	}{
		{name: "honest", nscSigner: h.svid["nsc"], nseSigner: h.svid["nse"], wantNSERequest: true},
		{name: "NSC signs as another", nscSigner: h.outsider, nseSigner: h.svid["nse"],
			wantCode: codes.PermissionDenied, wantMsg: "prev_token_signed"},
		{name: "NSE signs as another", nscSigner: h.svid["nsc"], nseSigner: h.outsider,
			// the NSE's own authorize sees its token does not chain to the NSC's
			wantCode: codes.PermissionDenied, wantMsg: "tokens_chained"},
		{name: "NSE signs with another key", nscSigner: h.svid["nsc"], nseSigner: impostor,
			wantCode: codes.PermissionDenied, wantMsg: "next_token_signed", wantNSERequest: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nseGen, err := tt.nseSigner.Generator(time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			nscGen, err := tt.nscSigner.Generator(time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			ep := &endpoint{}
			nse := chain.NewServer(updatepath.NewServer("nse"), begin.NewServer(), updatetoken.NewServer(nseGen),
				authorize.NewServer(authorize.WithLogger(log.Discard())), ep)
			hop, err := fakes.ServeTLSHop(nse, h.ca, h.svid["nse"], h.svid["nsc"], nscGen)
			if err != nil {
				t.Fatal(err)
			}
			defer hop.Stop()
			nsc := chain.NewClient(updatepath.NewClient("nsc"), begin.NewClient(nil), updatetoken.NewClient(nscGen),
				authorize.NewClient(authorize.WithLogger(log.Discard())), hop.Client)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			conn, err := nsc.Request(ctx, &networkservice.NetworkServiceRequest{Connection: &networkservice.Connection{}})
			if status.Code(err) != tt.wantCode || !strings.Contains(status.Convert(err).Message(), tt.wantMsg) {
				t.Fatalf("Request: %v, want %v %q", err, tt.wantCode, tt.wantMsg)
			}
			if (ep.requests == 1) != tt.wantNSERequest {
				t.Errorf("NSE saw %d requests", ep.requests)
			}
			if err != nil {
				// A refused new connection is closed again at the NSE.
				if tt.wantNSERequest && ep.closes != 1 {
					t.Errorf("NSE saw %d closes, want 1", ep.closes)
				}
				return
			}
			if _, err := nsc.Close(ctx, conn); err != nil {
				t.Fatal(err)
			}
			if ep.closes != 1 {
				t.Errorf("NSE saw %d closes", ep.closes)
			}
		})
	}
}
