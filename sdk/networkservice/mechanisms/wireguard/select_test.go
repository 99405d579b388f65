// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package wireguard_test

import (
	"context"
	"net"
	"slices"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/core/begin"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/networkservice/mechanisms"
	"github.com/nsmesh/nsmesh/sdk/networkservice/mechanisms/vxlan"
	"github.com/nsmesh/nsmesh/sdk/networkservice/mechanisms/wireguard"
)

// offers records the preference types each Request carries.
type offers struct {
	chain.ClientLink
	seen [][]string
}

func (o *offers) Request(ctx context.Context, req *networkservice.NetworkServiceRequest, opts ...grpc.CallOption) (*networkservice.Connection, error) {
	var types []string
	for _, p := range req.GetMechanismPreferences() {
		types = append(types, p.GetType())
	}
	o.seen = append(o.seen, types)
	return o.Next().Request(ctx, req, opts...)
}

func (o *offers) Close(ctx context.Context, conn *networkservice.Connection, opts ...grpc.CallOption) (*emptypb.Empty, error) {
	return o.Next().Close(ctx, conn, opts...)
}

// noPrefs clears the preferences as xconnect does: the elements after it
// offer afresh.
type noPrefs struct{ chain.ClientLink }

func (n *noPrefs) Request(ctx context.Context, req *networkservice.NetworkServiceRequest, opts ...grpc.CallOption) (*networkservice.Connection, error) {
	req = req.Clone()
	req.MechanismPreferences = nil
	return n.Next().Request(ctx, req, opts...)
}

func (n *noPrefs) Close(ctx context.Context, conn *networkservice.Connection, opts ...grpc.CallOption) (*emptypb.Empty, error) {
	return n.Next().Close(ctx, conn, opts...)
}

func TestSelect(t *testing.T) {
	for _, tc := range []struct {
		name           string
		payload, label string
		noWG, noPlain  bool
		fallback       bool
		wantOffer      []string
		wantCode       codes.Code
		wantChosen     string
	}{
		{name: "IP goes over WireGuard only", payload: "IP", wantOffer: []string{"WIREGUARD"}, wantChosen: "WIREGUARD"},
		{name: "fallback offers VXLAN second", payload: "IP", fallback: true, wantOffer: []string{"WIREGUARD", "VXLAN"}, wantChosen: "WIREGUARD"},
		{name: "ETHERNET goes over VXLAN", payload: "ETHERNET", wantOffer: []string{"VXLAN"}, wantChosen: "VXLAN"},
		{name: "label asks for vxlan", payload: "IP", label: "vxlan", wantOffer: []string{"VXLAN"}, wantChosen: "VXLAN"},
		{name: "label is case-insensitive", payload: "IP", label: "VXLAN", wantOffer: []string{"VXLAN"}, wantChosen: "VXLAN"},
		{name: "label wireguard disables the fallback", payload: "IP", label: "wireguard", fallback: true, wantOffer: []string{"WIREGUARD"}, wantChosen: "WIREGUARD"},
		{name: "label wireguard with ETHERNET", payload: "ETHERNET", label: "wireguard", wantCode: codes.InvalidArgument},
		{name: "unknown label value", payload: "IP", label: "ipsec", wantCode: codes.InvalidArgument},
		{name: "WireGuard disabled", payload: "IP", noWG: true, wantOffer: []string{"VXLAN"}, wantChosen: "VXLAN"},
		{name: "WireGuard disabled but asked for", payload: "IP", label: "wireguard", noWG: true, wantCode: codes.FailedPrecondition},
		{name: "no plain tunnel for ETHERNET", payload: "ETHERNET", noPlain: true, wantCode: codes.FailedPrecondition},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			a, b := newNode(t, "192.0.2.1", wireguard.DefaultPortRange), newNode(t, "192.0.2.2", wireguard.DefaultPortRange)
			var wg, plain networkservice.NetworkServiceClient
			if !tc.noWG {
				wg = a.wgClient(t)
			}
			if !tc.noPlain {
				plain = vxlan.NewClient(a.ip, 0)
			}
			var opts []wireguard.SelectOption
			if tc.fallback {
				opts = append(opts, wireguard.WithPlainFallback())
			}
			rec := &offers{}
			cli := chain.NewClient(begin.NewClient(nil), &noPrefs{}, wireguard.NewSelectClient(wg, plain, "VXLAN", opts...), rec, &remote{srv: b.server(t)})
			req := request("c1")
			req.Connection.Payload = tc.payload
			if tc.label != "" {
				req.Connection.Labels = map[string]string{wireguard.MechanismLabel: tc.label}
			}
			conn, err := cli.Request(ctx, req)
			if tc.wantCode != codes.OK {
				if status.Code(err) != tc.wantCode {
					t.Fatalf("got %v, want %s", err, tc.wantCode)
				}
				if len(rec.seen) != 0 {
					t.Error("a refused connection went on")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(rec.seen[0], tc.wantOffer) {
				t.Errorf("offered %v, want %v", rec.seen[0], tc.wantOffer)
			}
			if got := conn.GetMechanism().GetType(); got != tc.wantChosen {
				t.Errorf("chosen %s, want %s", got, tc.wantChosen)
			}
			// A refresh offers nothing new and keeps the agreed mechanism.
			again, err := cli.Request(ctx, refresh(conn))
			if err != nil {
				t.Fatal(err)
			}
			if len(rec.seen[1]) != 0 || again.GetMechanism().GetType() != tc.wantChosen {
				t.Errorf("refresh offered %v and chose %s", rec.seen[1], again.GetMechanism().GetType())
			}
			if _, err := cli.Close(ctx, again); err != nil {
				t.Fatal(err)
			}
			if held(a.alloc) != "0 ports 0 keys" {
				t.Errorf("client side keeps %s after Close", held(a.alloc))
			}
		})
	}
}

// TestFallbackToAPeerWithoutWireGuard: with the fallback on, a peer that
// knows only VXLAN gets VXLAN and the WireGuard lease is given back at once.
func TestFallbackToAPeerWithoutWireGuard(t *testing.T) {
	ctx := context.Background()
	a := newNode(t, "192.0.2.1", wireguard.DefaultPortRange)
	vxlanOnly := chain.NewServer(begin.NewServer(), mechanisms.NewServer(map[string]networkservice.NetworkServiceServer{
		"VXLAN": vxlan.NewServer(net.ParseIP("192.0.2.2"), 0),
	}))
	cli := chain.NewClient(begin.NewClient(nil),
		wireguard.NewSelectClient(a.wgClient(t), vxlan.NewClient(a.ip, 0), "VXLAN", wireguard.WithPlainFallback()), &remote{srv: vxlanOnly})
	conn, err := cli.Request(ctx, request("c1"))
	if err != nil {
		t.Fatal(err)
	}
	if conn.GetMechanism().GetType() != "VXLAN" {
		t.Fatalf("chosen %s", conn.GetMechanism().GetType())
	}
	if held(a.alloc) != "0 ports 0 keys" {
		t.Errorf("an unused WireGuard offer keeps %s", held(a.alloc))
	}
	// Without the fallback the same peer refuses the connection.
	strict := chain.NewClient(begin.NewClient(nil),
		wireguard.NewSelectClient(a.wgClient(t), vxlan.NewClient(a.ip, 0), "VXLAN"), &remote{srv: vxlanOnly})
	if _, err := strict.Request(ctx, request("c2")); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("strict WireGuard to a VXLAN-only peer: %v, want InvalidArgument", err)
	}
	if held(a.alloc) != "0 ports 0 keys" {
		t.Errorf("a refused offer keeps %s", held(a.alloc))
	}
}
