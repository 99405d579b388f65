// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package roundrobin_test

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"

	"go.uber.org/goleak"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/networkservice/discover"
	"github.com/nsmesh/nsmesh/sdk/networkservice/roundrobin"
	"github.com/nsmesh/nsmesh/sdk/tools/clienturlctx"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// downstream fails for the endpoints in fail and records every attempt.
type downstream struct {
	fail     map[string]error
	attempts []string
	urls     []string
}

func (d *downstream) Request(ctx context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	name := req.GetConnection().GetNetworkServiceEndpointName()
	d.attempts = append(d.attempts, name)
	d.urls = append(d.urls, clienturlctx.ClientURL(ctx).String())
	if req.GetConnection().GetMechanism() != nil {
		return nil, status.Error(codes.Internal, "attempt saw a mechanism left by an earlier attempt")
	}
	// Mutate the request the way a mechanism element would.
	req.GetConnection().Mechanism = &networkservice.Mechanism{Type: "KERNEL"}
	if err := d.fail[name]; err != nil {
		return nil, err
	}
	return req.GetConnection(), nil
}

func (d *downstream) Close(context.Context, *networkservice.Connection) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func candidates(ns string, names ...string) *discover.Candidates {
	c := &discover.Candidates{NetworkService: &registry.NetworkService{Name: ns}}
	for _, n := range names {
		c.Endpoints = append(c.Endpoints, &registry.NetworkServiceEndpoint{Name: n, Url: "unix:///run/" + n + ".sock"})
	}
	return c
}

func request(id, ns string) *networkservice.NetworkServiceRequest {
	return &networkservice.NetworkServiceRequest{Connection: &networkservice.Connection{Id: id, NetworkService: ns}}
}

func TestRotation(t *testing.T) {
	d := &downstream{}
	srv := chain.NewServer(roundrobin.NewServer(), d)
	red := candidates("red", "a", "b", "c")
	blue := candidates("blue", "x", "y")
	var got []string
	for i, c := range []*discover.Candidates{red, red, blue, red, blue, red} {
		conn, err := srv.Request(discover.WithCandidates(context.Background(), c), request(string(rune('0'+i)), c.NetworkService.GetName()))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, conn.GetNetworkServiceEndpointName())
	}
	if want := []string{"a", "b", "x", "c", "y", "a"}; !slices.Equal(got, want) {
		t.Fatalf("picked %v, want %v (a counter per service)", got, want)
	}
	if d.urls[0] != "unix:///run/a.sock" {
		t.Fatalf("URL %q not set from the endpoint", d.urls[0])
	}
}

func TestFailover(t *testing.T) {
	errA := status.Error(codes.Unavailable, "a is down")
	errB := status.Error(codes.Unavailable, "b is down")
	errC := status.Error(codes.PermissionDenied, "c refuses")
	tests := []struct {
		name         string
		cands        *discover.Candidates
		fail         map[string]error
		wantNSE      string
		wantAttempts []string
		wantCode     codes.Code
		wantMsgs     []string
	}{
		{name: "first works", cands: candidates("s", "a", "b"), wantNSE: "a", wantAttempts: []string{"a"}},
		{name: "failed candidate skipped", cands: candidates("s", "a", "b", "c"), fail: map[string]error{"a": errA}, wantNSE: "b", wantAttempts: []string{"a", "b"}},
		{
			name:         "all fail with one code",
			cands:        candidates("s", "a", "b"),
			fail:         map[string]error{"a": errA, "b": errB},
			wantAttempts: []string{"a", "b"},
			wantCode:     codes.Unavailable,
			wantMsgs:     []string{`network service "s"`, "a: a is down", "b: b is down"},
		},
		{
			name:         "mixed codes are Unavailable",
			cands:        candidates("s", "a", "c"),
			fail:         map[string]error{"a": errA, "c": errC},
			wantAttempts: []string{"a", "c"},
			wantCode:     codes.Unavailable,
			wantMsgs:     []string{"c: c refuses"},
		},
		{
			name: "endpoint with a bad URL is skipped",
			cands: &discover.Candidates{NetworkService: &registry.NetworkService{Name: "s"}, Endpoints: []*registry.NetworkServiceEndpoint{
				{Name: "bad", Url: "ftp://nowhere"}, {Name: "good", Url: "tcp://127.0.0.1:1"},
			}},
			wantNSE:      "good",
			wantAttempts: []string{"good"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &downstream{fail: tt.fail}
			srv := chain.NewServer(roundrobin.NewServer(), d)
			conn, err := srv.Request(discover.WithCandidates(context.Background(), tt.cands), request("c1", "s"))
			if status.Code(err) != tt.wantCode {
				t.Fatalf("code %s (%v), want %s", status.Code(err), err, tt.wantCode)
			}
			for _, m := range tt.wantMsgs {
				if !strings.Contains(err.Error(), m) {
					t.Fatalf("error %q does not mention %q", err, m)
				}
			}
			if err == nil && conn.GetNetworkServiceEndpointName() != tt.wantNSE {
				t.Fatalf("served by %q, want %q", conn.GetNetworkServiceEndpointName(), tt.wantNSE)
			}
			if !slices.Equal(d.attempts, tt.wantAttempts) {
				t.Fatalf("attempts %v, want %v", d.attempts, tt.wantAttempts)
			}
		})
	}
}

func TestPassThrough(t *testing.T) {
	d := &downstream{}
	srv := chain.NewServer(roundrobin.NewServer(), d)
	req := request("c1", "s")
	req.Connection.NetworkServiceEndpointName = "named"
	ctx := clienturlctx.WithClientURL(context.Background(), &url.URL{Scheme: "unix", Path: "/run/named.sock"}) // set by discover for a named endpoint
	if _, err := srv.Request(ctx, req); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.attempts, []string{"named"}) {
		t.Fatalf("attempts %v, want [named]", d.attempts)
	}
}

func TestCancelledStopsTrying(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	d := &cancelling{cancel: cancel}
	srv := chain.NewServer(roundrobin.NewServer(), d)
	_, err := srv.Request(discover.WithCandidates(ctx, candidates("s", "a", "b", "c")), request("c1", "s"))
	if status.Code(err) != codes.Canceled {
		t.Fatalf("want Canceled, got %v", err)
	}
	if d.calls != 1 {
		t.Fatalf("tried %d candidates after the caller gave up", d.calls)
	}
}

type cancelling struct {
	cancel context.CancelFunc
	calls  int
}

func (c *cancelling) Request(context.Context, *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	c.calls++
	c.cancel()
	return nil, status.Error(codes.Unavailable, "down")
}

func (c *cancelling) Close(context.Context, *networkservice.Connection) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}
