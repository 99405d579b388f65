// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package clienturl_test

import (
	"context"
	"net/url"
	"testing"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/networkservice/clienturl"
	"github.com/nsmesh/nsmesh/sdk/tools/clienturlctx"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// seen records the URL each call carried.
type seen struct{ urls []string }

func (s *seen) record(ctx context.Context) {
	if u := clienturlctx.ClientURL(ctx); u != nil {
		s.urls = append(s.urls, u.String())
		return
	}
	s.urls = append(s.urls, "")
}

func (s *seen) Request(ctx context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	s.record(ctx)
	return req.GetConnection(), nil
}

func (s *seen) Close(ctx context.Context, _ *networkservice.Connection) (*emptypb.Empty, error) {
	s.record(ctx)
	return &emptypb.Empty{}, nil
}

type seenClient struct{ seen }

func (s *seenClient) Request(ctx context.Context, req *networkservice.NetworkServiceRequest, _ ...grpc.CallOption) (*networkservice.Connection, error) {
	return s.seen.Request(ctx, req)
}

func (s *seenClient) Close(ctx context.Context, conn *networkservice.Connection, _ ...grpc.CallOption) (*emptypb.Empty, error) {
	return s.seen.Close(ctx, conn)
}

func TestClientURL(t *testing.T) {
	fixed := &url.URL{Scheme: "unix", Path: "/run/next.sock"}
	earlier := &url.URL{Scheme: "tcp", Host: "10.0.0.1:5001"}
	tests := []struct {
		name    string
		u       *url.URL
		initial *url.URL
		want    string
	}{
		{name: "sets the URL", u: fixed, want: fixed.String()},
		{name: "replaces an earlier URL", u: fixed, initial: earlier, want: fixed.String()},
		{name: "nil URL leaves the context alone", u: nil, initial: earlier, want: earlier.String()},
		{name: "nil URL and none before", u: nil, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.initial != nil {
				ctx = clienturlctx.WithClientURL(ctx, tt.initial)
			}
			req := &networkservice.NetworkServiceRequest{Connection: &networkservice.Connection{Id: "c"}}

			srvSeen := &seen{}
			srv := chain.NewServer(clienturl.NewServer(tt.u), srvSeen)
			if _, err := srv.Request(ctx, req); err != nil {
				t.Fatal(err)
			}
			if _, err := srv.Close(ctx, req.GetConnection()); err != nil {
				t.Fatal(err)
			}

			cliSeen := &seenClient{}
			cli := chain.NewClient(clienturl.NewClient(tt.u), cliSeen)
			if _, err := cli.Request(ctx, req); err != nil {
				t.Fatal(err)
			}
			if _, err := cli.Close(ctx, req.GetConnection()); err != nil {
				t.Fatal(err)
			}

			for _, got := range append(srvSeen.urls, cliSeen.urls...) {
				if got != tt.want {
					t.Errorf("next element saw URL %q, want %q", got, tt.want)
				}
			}
			if len(srvSeen.urls) != 2 || len(cliSeen.urls) != 2 {
				t.Errorf("calls: server %d, client %d, want 2 each", len(srvSeen.urls), len(cliSeen.urls))
			}
		})
	}
}
