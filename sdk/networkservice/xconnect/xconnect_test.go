// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package xconnect_test

import (
	"context"
	"errors"
	"net/url"
	"testing"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/core/begin"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/networkservice/xconnect"
	"github.com/nsmesh/nsmesh/sdk/tools/clienturlctx"
	"github.com/nsmesh/nsmesh/sdk/tools/fakes"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// nextHop plays the endpoint side: it picks the first preference (or keeps
// the agreed mechanism) and records what it saw.
type nextHop struct {
	chain.ClientLink
	seen   []*networkservice.NetworkServiceRequest
	closed []*networkservice.Connection
}

func (n *nextHop) Request(_ context.Context, req *networkservice.NetworkServiceRequest, _ ...grpc.CallOption) (*networkservice.Connection, error) {
	n.seen = append(n.seen, req.Clone())
	conn := req.GetConnection().Clone()
	if conn.Mechanism == nil {
		conn.Mechanism = req.GetMechanismPreferences()[0].Clone()
		conn.Mechanism.Parameters = map[string]string{"side": "endpoint"}
	}
	return conn, nil
}

func (n *nextHop) Close(_ context.Context, conn *networkservice.Connection, _ ...grpc.CallOption) (*emptypb.Empty, error) {
	n.closed = append(n.closed, conn.Clone())
	return &emptypb.Empty{}, nil
}

// offer adds a downstream preference named after the locality.
type offer struct {
	chain.ClientLink
	typ string
}

func (o *offer) Request(ctx context.Context, req *networkservice.NetworkServiceRequest, opts ...grpc.CallOption) (*networkservice.Connection, error) {
	req.MechanismPreferences = append(req.MechanismPreferences, &networkservice.Mechanism{Type: o.typ})
	return o.Next().Request(ctx, req, opts...)
}

func (o *offer) Close(ctx context.Context, conn *networkservice.Connection, opts ...grpc.CallOption) (*emptypb.Empty, error) {
	return o.Next().Close(ctx, conn, opts...)
}

func upstreamRequest() *networkservice.NetworkServiceRequest {
	return &networkservice.NetworkServiceRequest{
		Connection:           &networkservice.Connection{Id: "fwd-1", Mechanism: &networkservice.Mechanism{Cls: "LOCAL", Type: "KERNEL", Parameters: map[string]string{"side": "client"}}},
		MechanismPreferences: []*networkservice.Mechanism{{Type: "KERNEL"}},
	}
}

func TestTranslateProgramAndClose(t *testing.T) {
	for _, tt := range []struct {
		name, url, want string
	}{
		{"local next hop", "unix:///nse.sock", "LOCALMECH"},
		{"remote next hop", "tcp://127.0.0.1:5001", "TUNNEL"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dp := fakes.NewDataplane()
			hop := &nextHop{}
			c := chain.NewClient(begin.NewClient(nil), xconnect.NewClient(dp, nil),
				xconnect.WhenLocal(&offer{typ: "LOCALMECH"}), xconnect.WhenRemote(&offer{typ: "TUNNEL"}), hop)
			u, _ := url.Parse(tt.url)
			ctx := clienturlctx.WithClientURL(context.Background(), u)

			conn, err := c.Request(ctx, upstreamRequest())
			if err != nil {
				t.Fatal(err)
			}
			if got := hop.seen[0]; got.GetConnection().GetMechanism() != nil || len(got.GetMechanismPreferences()) != 1 || got.GetMechanismPreferences()[0].GetType() != tt.want {
				t.Fatalf("next hop saw %v, want only a %s preference and no upstream mechanism", got, tt.want)
			}
			if conn.GetMechanism().GetParameters()["side"] != "client" {
				t.Fatalf("caller got mechanism %v, want its own back", conn.GetMechanism())
			}
			p := dp.Programmed()["fwd-1"]
			if p == nil || p.Upstream.GetMechanism().GetParameters()["side"] != "client" || p.Downstream.GetMechanism().GetParameters()["side"] != "endpoint" {
				t.Fatalf("programmed %v", p)
			}
			// Refresh sends the agreed downstream mechanism.
			if _, err := c.Request(ctx, upstreamRequest()); err != nil {
				t.Fatal(err)
			}
			if m := hop.seen[1].GetConnection().GetMechanism(); m.GetParameters()["side"] != "endpoint" {
				t.Fatalf("refresh sent mechanism %v, want the agreed downstream one", m)
			}
			if _, err := c.Close(ctx, conn); err != nil {
				t.Fatal(err)
			}
			if len(dp.Programmed()) != 0 || len(hop.closed) != 1 || hop.closed[0].GetMechanism().GetParameters()["side"] != "endpoint" {
				t.Fatalf("after close: programmed=%v closed=%v", dp.Programmed(), hop.closed)
			}
		})
	}
}

func TestFailedProgrammingClosesNewDownstream(t *testing.T) {
	dp := fakes.NewDataplane()
	dp.FailProgram = errors.New("no netns")
	hop := &nextHop{}
	c := chain.NewClient(begin.NewClient(nil), xconnect.NewClient(dp, nil), &offer{typ: "X"}, hop)
	if _, err := c.Request(context.Background(), upstreamRequest()); err == nil {
		t.Fatal("want error")
	}
	if len(hop.closed) != 1 {
		t.Fatalf("next hop closes = %d, want 1", len(hop.closed))
	}
}

func TestRequestWithoutUpstreamMechanismIsRejected(t *testing.T) {
	c := chain.NewClient(begin.NewClient(nil), xconnect.NewClient(fakes.NewDataplane(), nil), &nextHop{})
	req := upstreamRequest()
	req.Connection.Mechanism = nil
	if _, err := c.Request(context.Background(), req); err == nil {
		t.Fatal("want error")
	}
}
