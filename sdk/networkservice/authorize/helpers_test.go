// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package authorize_test

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/peer"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/token"
	"github.com/nsmesh/nsmesh/sdk/tools/fakes"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var names = []string{"nsc", "nsmgr", "fwd", "nse"}

// hops holds one SVID per hop of a local path, plus an outsider.
type hops struct {
	ca       *fakes.SPIFFECA
	svid     map[string]*fakes.SVID
	outsider *fakes.SVID
}

func newHops(t testing.TB) *hops {
	t.Helper()
	ca, err := fakes.NewSPIFFECA("test.com")
	if err != nil {
		t.Fatal(err)
	}
	h := &hops{ca: ca, svid: map[string]*fakes.SVID{}}
	for _, n := range append([]string{"outsider"}, names...) {
		s, err := ca.Issue("spiffe://test.com/"+n, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		h.svid[n] = s
	}
	h.outsider = h.svid["outsider"]
	return h
}

// tok signs as hop from, for audience to ("" for none), expiring at exp.
func (h *hops) tok(t testing.TB, from, to string, exp time.Time) string {
	t.Helper()
	c := token.Claims{Subject: h.svid[from].ID, Expires: exp}
	if to != "" {
		c.Audience = []string{h.svid[to].ID}
	}
	s, err := token.Sign(h.svid[from].Key, c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// signAs signs with the key of hop signer a token claiming to be hop sub,
// for audience to ("" for none).
func (h *hops) signAs(t testing.TB, signer, sub, to string, exp time.Time) string {
	t.Helper()
	c := token.Claims{Subject: h.svid[sub].ID, Expires: exp}
	if to != "" {
		c.Audience = []string{h.svid[to].ID}
	}
	s, err := token.Sign(h.svid[signer].Key, c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// path returns the path of a finished local round trip, every token valid
// until exp, positioned at index.
func (h *hops) path(t testing.TB, index uint32, exp time.Time) *networkservice.Connection {
	t.Helper()
	toks := []string{h.tok(t, "nsc", "nsmgr", exp), h.tok(t, "nsmgr", "fwd", exp), h.tok(t, "fwd", "nse", exp), h.tok(t, "nse", "fwd", exp)}
	c := &networkservice.Connection{Path: &networkservice.Path{Index: index}}
	for i, n := range names {
		c.Path.PathSegments = append(c.Path.PathSegments, &networkservice.PathSegment{
			Name: n, Id: n + "-id", Token: toks[i], Expires: timestamppb.New(exp),
		})
	}
	c.Id = c.Path.PathSegments[index].Id
	return c
}

func (h *hops) peerCtx(name string) context.Context {
	return peer.NewContext(context.Background(), &peer.Peer{AuthInfo: h.svid[name].AuthInfo()})
}

// endpoint ends a server chain and counts calls.
type endpoint struct {
	requests, closes int
}

func (e *endpoint) Request(_ context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	e.requests++
	return req.GetConnection(), nil
}

func (e *endpoint) Close(context.Context, *networkservice.Connection) (*emptypb.Empty, error) {
	e.closes++
	return &emptypb.Empty{}, nil
}

// server ends a client chain: it answers with the next response in line and
// reports a server peer like a gRPC call would.
type server struct {
	peer      *fakes.SVID
	responses []*networkservice.Connection
	requests  int
	closes    int
}

func (s *server) Request(_ context.Context, _ *networkservice.NetworkServiceRequest, opts ...grpc.CallOption) (*networkservice.Connection, error) {
	for _, o := range opts {
		if p, ok := o.(grpc.PeerCallOption); ok && s.peer != nil {
			p.PeerAddr.AuthInfo = s.peer.AuthInfo()
		}
	}
	r := s.responses[min(s.requests, len(s.responses)-1)]
	s.requests++
	return r.Clone(), nil
}

func (s *server) Close(context.Context, *networkservice.Connection, ...grpc.CallOption) (*emptypb.Empty, error) {
	s.closes++
	return &emptypb.Empty{}, nil
}
