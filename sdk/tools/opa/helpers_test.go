// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package opa_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc/peer"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/token"
	"github.com/nsmesh/nsmesh/sdk/tools/fakes"
)

// hops are SVIDs of the hops of a local path plus outsiders.
type hops struct {
	svid map[string]*fakes.SVID
}

func newHops(t testing.TB, names ...string) *hops {
	t.Helper()
	ca, err := fakes.NewSPIFFECA("test.com")
	if err != nil {
		t.Fatal(err)
	}
	h := &hops{svid: map[string]*fakes.SVID{}}
	for _, n := range names {
		s, err := ca.Issue("spiffe://test.com/"+n, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		h.svid[n] = s
	}
	return h
}

// path returns the left side of a request at the endpoint (index 3) that
// client started: client → nsmgr → fwd → nse, each token for the next hop.
func (h *hops) path(t testing.TB, client string) *networkservice.Connection {
	t.Helper()
	names := []string{client, "nsmgr", "fwd", "nse"}
	exp := time.Now().Add(time.Hour)
	c := &networkservice.Connection{Path: &networkservice.Path{Index: 3}}
	for i, n := range names {
		claims := token.Claims{Subject: h.svid[n].ID, Expires: exp, Audience: []string{h.svid[names[min(i+1, 3)]].ID}}
		if i == 3 {
			claims.Audience = []string{h.svid["fwd"].ID}
		}
		tok, err := token.Sign(h.svid[n].Key, claims)
		if err != nil {
			t.Fatal(err)
		}
		c.Path.PathSegments = append(c.Path.PathSegments, &networkservice.PathSegment{
			Name: n, Id: n + "-id", Token: tok, Expires: timestamppb.New(exp),
		})
	}
	c.Id = "nse-id"
	return c
}

func (h *hops) peerCtx(name string) context.Context {
	return peer.NewContext(context.Background(), &peer.Peer{AuthInfo: h.svid[name].AuthInfo()})
}

// shipped copies the shipped example policy into a directory with data
// allowing the given SPIFFE IDs, and returns the copy's path.
func shipped(t testing.TB, data string) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "..", "..", "deploy", "policies", "allowed_clients.rego"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	f := filepath.Join(dir, "allowed_clients.rego")
	if err := os.WriteFile(f, src, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "allowed_clients.json"), []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// endpoint ends a server chain and counts calls.
type endpoint struct{ requests, closes int }

func (e *endpoint) Request(_ context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	e.requests++
	return req.GetConnection(), nil
}

func (e *endpoint) Close(context.Context, *networkservice.Connection) (*emptypb.Empty, error) {
	e.closes++
	return &emptypb.Empty{}, nil
}
