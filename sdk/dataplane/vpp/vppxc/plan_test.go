// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package vppxc_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"go.fd.io/govpp/binapi/ip_types"
	"go.fd.io/govpp/binapi/l3xc"
	"go.fd.io/govpp/core"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	kernelmech "github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/kernel"
	"github.com/nsmesh/nsmesh/apis/networkservice/payload"
	"github.com/nsmesh/nsmesh/sdk/dataplane/vpp/internal/fakevpp"
	"github.com/nsmesh/nsmesh/sdk/dataplane/vpp/vppxc"
	"github.com/nsmesh/nsmesh/sdk/networkservice/xconnect"
)

// TestProgramRejects: what the data plane cannot program is refused before
// any message reaches VPP.
func TestProgramRejects(t *testing.T) {
	clientPriv, clientPub := keyPair(t, 8)
	_, endpointPub := keyPair(t, 16)
	store := keys{clientPub: clientPriv}
	k := kernelMech(testNetNS, "nsc-x")
	withMTU := func(m *networkservice.Mechanism, mtu string) *networkservice.Mechanism {
		m.Parameters["MTU"] = mtu
		return m
	}
	badCC := dualStack(0)
	badCC.IpContext.SrcIpAddrs = []string{"10.0.0.300/32"}
	tests := []struct {
		name        string
		pair        *xconnect.Pair
		opts        []vppxc.Option
		unsupported bool
		wantInErr   string
	}{
		{name: "no connection id", pair: &xconnect.Pair{}, wantInErr: "without a connection id"},
		{name: "vxlan to vxlan", unsupported: true, wantInErr: "upstream REMOTE/VXLAN, downstream REMOTE/VXLAN",
			pair: newPair("c", payload.Ethernet, dualStack(0), vxlanMech("192.0.2.1", "192.0.2.2", 1, 0, 0), vxlanMech("192.0.2.1", "192.0.2.2", 2, 0, 0))},
		{name: "unknown payload", unsupported: true, wantInErr: `payload "MPLS"`,
			pair: newPair("c", "MPLS", dualStack(0), k, kernelMech(testNetNS, "nse-x"))},
		{name: "wireguard with Ethernet payload", unsupported: true, wantInErr: "IP only",
			pair: newPair("c", payload.Ethernet, dualStack(0), k, wgMech("192.0.2.1", "192.0.2.2", 1, 2, clientPub, endpointPub))},
		{name: "wireguard without keys", unsupported: true, wantInErr: "WithWireGuard", opts: []vppxc.Option{},
			pair: newPair("c", payload.IP, dualStack(0), k, wgMech("192.0.2.1", "192.0.2.2", 1, 2, clientPub, endpointPub))},
		{name: "wireguard key of someone else", wantInErr: "no private key for src_public_key",
			pair: newPair("c", payload.IP, dualStack(0), k, wgMech("192.0.2.1", "192.0.2.2", 1, 2, endpointPub, clientPub))},
		{name: "wireguard without ports", wantInErr: "must both be set",
			pair: newPair("c", payload.IP, dualStack(0), k, wgMech("192.0.2.1", "192.0.2.2", 0, 2, clientPub, endpointPub))},
		{name: "vxlan without VNI", wantInErr: "no VNI",
			pair: newPair("c", payload.Ethernet, dualStack(0), k, vxlanMech("192.0.2.1", "192.0.2.2", 0, 0, 0))},
		{name: "vxlan of mixed families", wantInErr: "different families",
			pair: newPair("c", payload.Ethernet, dualStack(0), k, vxlanMech("192.0.2.1", "2001:db8::2", 5, 0, 0))},
		{name: "tunnel from another address", wantInErr: "not this forwarder's 192.0.2.9",
			opts: []vppxc.Option{vppxc.WithTunnelIP(net.ParseIP("192.0.2.9"))},
			pair: newPair("c", payload.Ethernet, dualStack(0), k, vxlanMech("192.0.2.1", "192.0.2.2", 5, 0, 0))},
		{name: "tunnel MTU below the minimum", wantInErr: "below the IPv4 minimum",
			pair: newPair("c", payload.Ethernet, dualStack(0), k, withMTU(vxlanMech("192.0.2.1", "192.0.2.2", 5, 0, 0), "60"))},
		{name: "namespace not received", wantInErr: "grpcfd",
			pair: newPair("c", payload.IP, dualStack(0), kernelmech.New("inode://4/4026531840"), kernelMech(testNetNS, "nse-x"))},
		{name: "namespace path too long for VPP", wantInErr: "longer than the 63 bytes",
			pair: newPair("c", payload.IP, dualStack(0), kernelMech("/"+strings.Repeat("n", 70), "nsc-x"), kernelMech(testNetNS, "nse-x"))},
		{name: "interface name too long", wantInErr: "longer than 15",
			pair: newPair("c", payload.IP, dualStack(0), kernelMech(testNetNS, "a-very-long-name-indeed"), kernelMech(testNetNS, "nse-x"))},
		{name: "bad address in the context", wantInErr: "src_ip_addrs[0]",
			pair: newPair("c", payload.IP, badCC, k, kernelMech(testNetNS, "nse-x"))},
		{name: "namespace that does not exist", wantInErr: "no such file",
			pair: newPair("c", payload.IP, dualStack(0), kernelMech("/proc/self/ns/nonexistent", "nsc-x"), kernelMech(testNetNS, "nse-x"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := newFakeVPP(t)
			opts := tt.opts
			if opts == nil {
				opts = []vppxc.Option{vppxc.WithPrivateKeys(store)}
			}
			rec := &configRecorder{}
			dp := newDataplane(t, fake.Conn(t), append(opts, vppxc.WithConfigurer(rec.configure))...)
			fake.Take()
			err := dp.Program(context.Background(), tt.pair)
			if err == nil {
				t.Fatal("Program succeeded")
			}
			if !strings.Contains(err.Error(), tt.wantInErr) {
				t.Errorf("error %q does not mention %q", err, tt.wantInErr)
			}
			if errors.Is(err, vppxc.ErrUnsupported) != tt.unsupported {
				t.Errorf("errors.Is(%v, ErrUnsupported) = %v, want %v", err, !tt.unsupported, tt.unsupported)
			}
			if got := fake.Take(); len(got) != 0 {
				t.Errorf("a refused Program sent %v", names(got))
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	tests := []struct {
		name      string
		nilConn   bool
		opts      []vppxc.Option
		wantInErr string
	}{
		{name: "nil connection", nilConn: true, wantInErr: "nil VPP connection"},
		{name: "owner with a colon", opts: []vppxc.Option{vppxc.WithOwner("a:b")}, wantInErr: "':'"},
		{name: "owner too long", opts: []vppxc.Option{vppxc.WithOwner(strings.Repeat("o", 31))}, wantInErr: "longer than 30"},
		{name: "negative grace", opts: []vppxc.Option{vppxc.WithAdoptionGrace(-time.Second)}, wantInErr: "negative adoption grace"},
		{name: "tiny underlay", opts: []vppxc.Option{vppxc.WithUnderlayMTU(100)}, wantInErr: "too small"},
		{name: "keepalive out of range", opts: []vppxc.Option{vppxc.WithWireGuardKeepalive(100 * time.Hour)}, wantInErr: "out of range"},
		{name: "VXLAN port 0", opts: []vppxc.Option{vppxc.WithVxlanPort(0)}, wantInErr: "port 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := newFakeVPP(t)
			conn := fake.Conn(t)
			if tt.nilConn {
				conn = nil
			}
			dp, err := vppxc.New(context.Background(), conn, tt.opts...)
			if err == nil {
				dp.Close()
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), tt.wantInErr) {
				t.Errorf("error %q does not mention %q", err, tt.wantInErr)
			}
		})
	}
}

// TestNewFailsWithoutVPP: New reads VPP's interfaces, so a connection that
// no longer reaches VPP is an error naming the message.
func TestNewFailsWithoutVPP(t *testing.T) {
	fake := newFakeVPP(t)
	conn, err := core.Connect(fake)
	if err != nil {
		t.Fatal(err)
	}
	conn.Disconnect()
	_, err = vppxc.New(context.Background(), conn)
	if err == nil || !strings.Contains(err.Error(), "sw_interface_dump: outcome unknown") {
		t.Fatalf("New = %v, want an error naming sw_interface_dump", err)
	}
}

// TestProgramWithoutContext: a connection without addresses gets l3xc
// paths without next hop, and the default MTU on both sides.
func TestProgramWithoutContext(t *testing.T) {
	fake := newFakeVPP(t)
	rec := &configRecorder{}
	dp := newDataplane(t, fake.Conn(t), vppxc.WithConfigurer(rec.configure))
	fake.Take()
	p := newPair("conn-n", payload.IP, nil, kernelMech(testNetNS, "nsc-n"), kernelMech(testNetNS, "nse-n"))
	if err := dp.Program(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	for _, x := range fakevpp.Of[*l3xc.L3xcUpdate](fake.Take()) {
		if nh := x.L3xc.Paths[0].Nh.Address; nh != (ip_types.AddressUnion{}) {
			t.Errorf("l3xc on %d has next hop %v, want none", x.L3xc.SwIfIndex, nh)
		}
	}
	for _, c := range rec.take() {
		if c.cc.GetMTU() != vppxc.DefaultMTU {
			t.Errorf("%s configured with MTU %d, want %d", c.name, c.cc.GetMTU(), vppxc.DefaultMTU)
		}
	}
}
