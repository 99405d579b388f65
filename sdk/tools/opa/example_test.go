// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package opa_test

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/networkservice/authorize"
	"github.com/nsmesh/nsmesh/sdk/tools/log"
	"github.com/nsmesh/nsmesh/sdk/tools/opa"
)

// The shipped allowed_clients policy lets listed clients through to the
// endpoint and stops the others with a message naming them; the native
// policies still run first.
func TestAllowedClientsExample(t *testing.T) {
	h := newHops(t, "alice", "mallory", "nsmgr", "fwd", "nse")
	ps, err := opa.Load(context.Background(), []string{shipped(t, `{"allowed_clients":["spiffe://test.com/alice","spiffe://test.com/bob"]}`)})
	if err != nil {
		t.Fatal(err)
	}
	noToken := h.path(t, "alice")
	noToken.Path.PathSegments[0].Token = ""
	tests := []struct {
		name     string
		conn     *networkservice.Connection
		caller   string
		wantCode codes.Code
		wantMsg  string
	}{
		{name: "listed client", conn: h.path(t, "alice"), caller: "fwd"},
		{name: "client not on the list", conn: h.path(t, "mallory"), caller: "fwd", wantCode: codes.PermissionDenied,
			wantMsg: "authorize: policy allowed_clients: no sufficient privileges (" + ps[0].File() + "): client spiffe://test.com/mallory is not on the allowed list"},
		{name: "no client token", conn: noToken, caller: "fwd", wantCode: codes.PermissionDenied,
			wantMsg: "carries no client token"},
		{name: "native policies first", conn: h.path(t, "alice"), caller: "mallory", wantCode: codes.PermissionDenied,
			wantMsg: "policy prev_token_signed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep := &endpoint{}
			srv := chain.NewServer(authorize.NewServer(authorize.WithLogger(log.Discard()),
				authorize.WithAdditionalPolicies(opa.ConnectionPolicies(ps)...)), ep)
			_, err := srv.Request(h.peerCtx(tt.caller), &networkservice.NetworkServiceRequest{Connection: tt.conn})
			if status.Code(err) != tt.wantCode || !strings.Contains(status.Convert(err).Message(), tt.wantMsg) {
				t.Fatalf("got %v, want %v %q", err, tt.wantCode, tt.wantMsg)
			}
			if want := map[bool]int{true: 1, false: 0}[tt.wantCode == codes.OK]; ep.requests != want {
				t.Fatalf("endpoint saw %d requests, want %d", ep.requests, want)
			}
		})
	}
}
