// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package vxlan_test

import (
	"context"
	"net"
	"testing"

	"go.uber.org/goleak"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	apivxlan "github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/vxlan"
	"github.com/nsmesh/nsmesh/sdk/core/begin"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/networkservice/mechanisms/vxlan"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// negotiate runs what a remote Request does: the client forwarder offers, the
// server forwarder picks the offer and fills its side.
func negotiate(t *testing.T, srv networkservice.NetworkServiceServer, cli networkservice.NetworkServiceClient, id string, prev *networkservice.Mechanism) *apivxlan.Mechanism {
	t.Helper()
	req := &networkservice.NetworkServiceRequest{Connection: &networkservice.Connection{Id: id, Mechanism: prev}}
	if _, err := cli.Request(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if req.Connection.Mechanism == nil {
		req.Connection.Mechanism = req.MechanismPreferences[0]
	}
	conn, err := srv.Request(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return apivxlan.ToMechanism(conn.GetMechanism())
}

func TestNegotiation(t *testing.T) {
	low, high := net.ParseIP("10.0.0.1"), net.ParseIP("10.0.0.2")
	tests := []struct {
		name     string
		src, dst net.IP
		even     bool
	}{
		{"src below dst gets an even VNI", low, high, true},
		{"src above dst gets an odd VNI", high, low, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := chain.NewServer(begin.NewServer(), vxlan.NewServer(tt.dst, 0))
			cli := chain.NewClient(vxlan.NewClient(tt.src, 0))
			m := negotiate(t, srv, cli, "c1", nil)
			vni, err := m.VNI()
			if err != nil || vni == 0 {
				t.Fatalf("vni = %d, %v", vni, err)
			}
			if (vni%2 == 0) != tt.even {
				t.Fatalf("vni %d has the wrong parity", vni)
			}
			if !m.SrcIP().Equal(tt.src) || !m.DstIP().Equal(tt.dst) {
				t.Fatalf("tunnel %v -> %v", m.SrcIP(), m.DstIP())
			}
			if p, _ := m.DstPort(); p != vxlan.DefaultPort {
				t.Fatalf("dst port %d", p)
			}
			// Refresh with the agreed mechanism keeps the VNI.
			again := negotiate(t, srv, cli, "c1", m.Mechanism())
			if v2, _ := again.VNI(); v2 != vni {
				t.Fatalf("refresh changed VNI %d -> %d", vni, v2)
			}
			_, _ = srv.Close(context.Background(), &networkservice.Connection{Id: "c1"})
		})
	}
}

func TestVNIsAreUniqueOnTheNode(t *testing.T) {
	srv := chain.NewServer(begin.NewServer(), vxlan.NewServer(net.ParseIP("10.0.0.9"), 0))
	clients := []networkservice.NetworkServiceClient{
		chain.NewClient(vxlan.NewClient(net.ParseIP("10.0.0.1"), 0)),
		chain.NewClient(vxlan.NewClient(net.ParseIP("10.0.0.2"), 0)),
	}
	seen := map[uint32]bool{}
	for i := range 200 {
		m := negotiate(t, srv, clients[i%2], string(rune('a'+i%26))+string(rune('A'+i/26)), nil)
		vni, _ := m.VNI()
		if seen[vni] {
			t.Fatalf("VNI %d handed out twice", vni)
		}
		seen[vni] = true
	}
}

func TestServerNeedsSourceAddress(t *testing.T) {
	srv := chain.NewServer(begin.NewServer(), vxlan.NewServer(net.ParseIP("10.0.0.9"), 0))
	req := &networkservice.NetworkServiceRequest{Connection: &networkservice.Connection{
		Id: "x", Mechanism: &networkservice.Mechanism{Cls: "REMOTE", Type: apivxlan.MECHANISM},
	}}
	if _, err := srv.Request(context.Background(), req); err == nil {
		t.Fatal("want error for a VXLAN offer without src_ip")
	}
}
