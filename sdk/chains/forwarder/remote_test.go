// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package forwarder_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"testing"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/chains/forwarder"
	"github.com/nsmesh/nsmesh/sdk/core/begin"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/networkservice/mechanisms/wireguard"
)

var errStop = errors.New("stop here")

// offered records the preference types of each Request and refuses it, so
// that the offer is seen without a peer.
type offered struct {
	chain.ClientLink
	types []string
}

func (o *offered) Request(_ context.Context, req *networkservice.NetworkServiceRequest, _ ...grpc.CallOption) (*networkservice.Connection, error) {
	for _, p := range req.GetMechanismPreferences() {
		o.types = append(o.types, p.GetType())
	}
	return nil, errStop
}

func (o *offered) Close(context.Context, *networkservice.Connection, ...grpc.CallOption) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func TestNewRemote(t *testing.T) {
	ip := net.ParseIP("192.0.2.1")
	for _, tc := range []struct {
		name        string
		ports       wireguard.PortRange
		fallback    bool
		payload     string
		wantServers []string
		wantOffer   []string
		wantLevel   logrus.Level
	}{
		{name: "WireGuard for IP", ports: wireguard.DefaultPortRange, payload: "IP",
			wantServers: []string{"VXLAN", "WIREGUARD"}, wantOffer: []string{"WIREGUARD"}, wantLevel: logrus.InfoLevel},
		{name: "fallback offers VXLAN second", ports: wireguard.DefaultPortRange, fallback: true, payload: "IP",
			wantServers: []string{"VXLAN", "WIREGUARD"}, wantOffer: []string{"WIREGUARD", "VXLAN"}, wantLevel: logrus.InfoLevel},
		{name: "VXLAN for ETHERNET", ports: wireguard.DefaultPortRange, payload: "ETHERNET",
			wantServers: []string{"VXLAN", "WIREGUARD"}, wantOffer: []string{"VXLAN"}, wantLevel: logrus.InfoLevel},
		{name: "WireGuard disabled", payload: "IP",
			wantServers: []string{"VXLAN"}, wantOffer: []string{"VXLAN"}, wantLevel: logrus.WarnLevel},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log, hook := test.NewNullLogger()
			r, err := forwarder.NewRemote(ip, 4789, tc.ports, tc.fallback, log)
			if err != nil {
				t.Fatal(err)
			}
			var servers []string
			for typ := range r.Servers {
				servers = append(servers, typ)
			}
			slices.Sort(servers)
			if !slices.Equal(servers, tc.wantServers) {
				t.Errorf("servers %v, want %v", servers, tc.wantServers)
			}
			if enabled := tc.ports != (wireguard.PortRange{}); (r.WireGuard != nil) != enabled {
				t.Errorf("allocator %v with WireGuard enabled %t", r.WireGuard, enabled)
			} else if enabled && r.WireGuard.Ports() != tc.ports {
				t.Errorf("allocator ports %s, want %s", r.WireGuard.Ports(), tc.ports)
			}
			rec := &offered{}
			cli := chain.NewClient(begin.NewClient(nil), r.Offer, rec)
			req := &networkservice.NetworkServiceRequest{Connection: &networkservice.Connection{Id: "c1", NetworkService: "svc", Payload: tc.payload}}
			if _, err := cli.Request(context.Background(), req); !errors.Is(err, errStop) {
				t.Fatalf("got %v, want the recorder's error", err)
			}
			if !slices.Equal(rec.types, tc.wantOffer) {
				t.Errorf("offered %v, want %v", rec.types, tc.wantOffer)
			}
			if r.WireGuard != nil {
				if ports, keys := r.WireGuard.InUse(); ports != 0 || keys != 0 {
					t.Errorf("a refused Request keeps %d ports and %d keys", ports, keys)
				}
			}
			if len(hook.Entries) != 1 || hook.LastEntry().Level != tc.wantLevel {
				t.Fatalf("logged %d entries, want one at %s", len(hook.Entries), tc.wantLevel)
			}
			if got := hook.LastEntry().Data["tunnel_ip"]; got != ip.String() {
				t.Errorf("tunnel_ip %v, want %s", got, ip)
			}
		})
	}
}

func TestNewRemoteRefuses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ip    net.IP
		ports wireguard.PortRange
	}{
		{name: "no tunnel IP", ports: wireguard.DefaultPortRange},
		{name: "inverted port range", ip: net.ParseIP("192.0.2.1"), ports: wireguard.PortRange{First: 52000, Last: 51000}},
		{name: "port 0", ip: net.ParseIP("192.0.2.1"), ports: wireguard.PortRange{First: 0, Last: 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log, hook := test.NewNullLogger()
			if r, err := forwarder.NewRemote(tc.ip, 4789, tc.ports, false, log); err == nil {
				t.Fatalf("got %+v, want an error", r)
			}
			if len(hook.Entries) != 0 {
				t.Errorf("logged %d entries on error", len(hook.Entries))
			}
		})
	}
}
