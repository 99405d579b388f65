// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package vppxc_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"go.fd.io/govpp/api"
	"go.fd.io/govpp/binapi/l3xc"
	"go.fd.io/govpp/binapi/tapv2"

	"github.com/nsmesh/nsmesh/apis/networkservice/payload"
	"github.com/nsmesh/nsmesh/sdk/dataplane/vpp/internal/fakevpp"
	"github.com/nsmesh/nsmesh/sdk/dataplane/vpp/vppxc"
	"github.com/nsmesh/nsmesh/sdk/networkservice/xconnect"
)

func TestProgramFailureRollsBack(t *testing.T) {
	clientPriv, clientPub := keyPair(t, 8)
	_, endpointPub := keyPair(t, 16)
	store := keys{clientPub: clientPriv}
	ipPair := newPair("conn-f", payload.IP, dualStack(0), kernelMech(testNetNS, "nsc-f"), kernelMech(testNetNS, "nse-f"))
	wgPair := newPair("conn-w", payload.IP, dualStack(0), kernelMech(testNetNS, "nsc-w"),
		wgMech("192.0.2.1", "192.0.2.2", 51820, 51821, clientPub, endpointPub))
	vxPair := newPair("conn-x", payload.Ethernet, dualStack(0), kernelMech(testNetNS, "nsc-x"), vxlanMech("192.0.2.1", "192.0.2.2", 7, 0, 0))
	configErr := errors.New("no such interface")

	tests := []struct {
		name string
		pair *xconnect.Pair
		// fail is the message refused, its occurrence and VPP's retval.
		fail    string
		nth     int
		retval  int32
		failCfg bool
		// want is everything sent, the rollback included.
		want []string
		// wantInErr are parts of the error.
		wantInErr []string
	}{
		{
			name: "second tap refused", fail: "tap_create_v3", nth: 2, retval: -13,
			want:      seq(tapCreate, []string{"tap_create_v3", "tap_delete_v2"}),
			wantInErr: []string{"tap_create_v3", "retval -13"},
		},
		{
			name: "first tap's MTU refused", fail: "sw_interface_set_mtu", nth: 1, retval: -7,
			want:      []string{"tap_create_v3", "sw_interface_tag_add_del", "sw_interface_set_rx_mode", "sw_interface_set_mtu", "tap_delete_v2"},
			wantInErr: []string{"sw_interface_set_mtu", "retval -7"},
		},
		{
			name: "third l3xc refused", fail: "l3xc_update", nth: 3, retval: -1,
			// The l3xc halves made are removed, then the taps, newest first.
			want: seq(tapCreate, tapCreate, []string{"l3xc_update", "l3xc_update", "l3xc_update",
				"l3xc_del", "l3xc_del", "tap_delete_v2", "tap_delete_v2"}),
			wantInErr: []string{"l3xc_update", "retval -1"},
		},
		{
			name: "workload side fails", failCfg: true,
			want:      seq(tapCreate, tapCreate, l3xcAll, l3xcDel, []string{"tap_delete_v2", "tap_delete_v2"}),
			wantInErr: []string{"no such interface"},
		},
		{
			name: "wireguard peer refused", pair: wgPair, fail: "wireguard_peer_add", nth: 1, retval: -6,
			want: seq(tapCreate, []string{"wireguard_interface_create", "sw_interface_tag_add_del", "wireguard_peer_add",
				"wireguard_interface_delete", "tap_delete_v2"}),
			wantInErr: []string{"wireguard_peer_add", "retval -6"},
		},
		{
			name: "vxlan tunnel refused", pair: vxPair, fail: "vxlan_add_del_tunnel_v3", nth: 1, retval: -13,
			want:      seq(tapCreate, []string{"add_node_next", "vxlan_add_del_tunnel_v3", "tap_delete_v2"}),
			wantInErr: []string{"vxlan_add_del_tunnel_v3", "retval -13"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := newFakeVPP(t)
			rec := &configRecorder{}
			if tt.failCfg {
				rec.fail = configErr
			}
			dp := newDataplane(t, fake.Conn(t), vppxc.WithConfigurer(rec.configure), vppxc.WithPrivateKeys(store))
			fake.Take()
			p := ipPair
			if tt.pair != nil {
				p = tt.pair
			}
			if tt.fail != "" {
				fake.FailOn(tt.fail, tt.nth, tt.retval)
			}
			err := dp.Program(context.Background(), p)
			if err == nil {
				t.Fatal("Program succeeded")
			}
			for _, s := range tt.wantInErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
			if tt.retval != 0 {
				var vppErr api.VPPApiError
				if !errors.As(err, &vppErr) || int32(vppErr) != tt.retval {
					t.Errorf("error %v does not wrap VPP's retval %d", err, tt.retval)
				}
			}
			if got := names(fake.Take()); !slices.Equal(got, tt.want) {
				t.Errorf("sent\n  %v\nwant\n  %v", got, tt.want)
			}
			if got := fake.state(); got != "peers 0\n" {
				t.Errorf("VPP after the failed Program:\n%s", got)
			}
			if got := dp.Connections(); len(got) != 0 {
				t.Errorf("Connections = %v after a failed first Program", got)
			}
			// The failure leaves nothing to unprogram: the next Program
			// starts afresh (VPP refused, so no dump is needed).
			rec.fail = nil
			if err := dp.Program(context.Background(), p); err != nil {
				t.Fatal(err)
			}
			if got := names(fake.Take()); slices.Contains(got, "sw_interface_dump") {
				t.Errorf("Program after a refusal dumped: %v", got)
			}
		})
	}
}

// TestFailedRefreshKeepsInterfaces: a refresh that fails leaves the
// interfaces it found in place and remembered, so that a working connection
// is not torn down, and Unprogram still removes them.
func TestFailedRefreshKeepsInterfaces(t *testing.T) {
	fake := newFakeVPP(t)
	rec := &configRecorder{}
	dp := newDataplane(t, fake.Conn(t), vppxc.WithConfigurer(rec.configure))
	ctx := context.Background()
	p := newPair("conn-r", payload.IP, dualStack(0), kernelMech(testNetNS, "nsc-r"), kernelMech(testNetNS, "nse-r"))
	if err := dp.Program(ctx, p); err != nil {
		t.Fatal(err)
	}
	fake.Take()
	before := fake.state()

	// The MTU changes and VPP refuses it on the second tap.
	p2 := newPair("conn-r", payload.IP, dualStack(1400), kernelMech(testNetNS, "nsc-r"), kernelMech(testNetNS, "nse-r"))
	fake.FailOn("sw_interface_set_mtu", 2, -1)
	if err := dp.Program(ctx, p2); err == nil {
		t.Fatal("refresh succeeded")
	}
	if got := names(fake.Take()); !slices.Equal(got, seq(verify, []string{"sw_interface_set_mtu", "sw_interface_set_mtu"})) {
		t.Errorf("failed refresh sent %v", got)
	}
	if got := strings.Count(fake.state(), " tap "); got != 2 {
		t.Errorf("a failed refresh removed interfaces:\n%s\nwas\n%s", fake.state(), before)
	}
	// The retry sets what is still wrong: the first tap's MTU is already
	// right, and the cross-connect is unchanged.
	if err := dp.Program(ctx, p2); err != nil {
		t.Fatal(err)
	}
	if got := names(fake.Take()); !slices.Equal(got, seq(verify, []string{"sw_interface_set_mtu"})) {
		t.Errorf("retried refresh sent %v", got)
	}
	if err := dp.Unprogram(ctx, p2); err != nil {
		t.Fatal(err)
	}
	if got := fake.state(); got != "peers 0\n" {
		t.Errorf("VPP after Unprogram:\n%s", got)
	}
}

func TestRefreshChanges(t *testing.T) {
	clientPriv, clientPub := keyPair(t, 8)
	_, endpointPub := keyPair(t, 16)
	_, endpointPub2 := keyPair(t, 24)
	store := keys{clientPub: clientPriv}
	kk := func(mtu uint32, nse string, addrs ...string) *xconnect.Pair {
		cc := dualStack(mtu)
		if len(addrs) > 0 {
			cc.IpContext.DstIpAddrs = addrs
		}
		return newPair("conn-c", payload.IP, cc, kernelMech(testNetNS, "nsc-c"), kernelMech(testNetNS, nse))
	}
	wg := func(peerKey [32]byte, peerPort uint16) *xconnect.Pair {
		return newPair("conn-c", payload.IP, dualStack(0), kernelMech(testNetNS, "nsc-c"),
			wgMech("192.0.2.1", "192.0.2.2", 51820, peerPort, clientPub, peerKey))
	}
	tests := []struct {
		name        string
		first, then *xconnect.Pair
		want        []string
		check       func(t *testing.T, reqs []request)
	}{
		{
			name: "MTU", first: kk(0, "nse-c"), then: kk(1400, "nse-c"),
			want: seq(verify, []string{"sw_interface_set_mtu", "sw_interface_set_mtu"}),
		},
		{
			name: "endpoint address", first: kk(0, "nse-c"), then: kk(0, "nse-c", "10.0.0.3/32", "fd00::2/128"),
			// l3xc_update replaces an entry: all four are sent again.
			want: seq(verify, l3xcAll),
			check: func(t *testing.T, reqs []request) {
				x := fakevpp.Of[*l3xc.L3xcUpdate](reqs)[0].L3xc
				if nh := x.Paths[0].Nh.Address.GetIP4(); nh.String() != "10.0.0.3" {
					t.Errorf("next hop %s, want the new endpoint address", nh)
				}
			},
		},
		{
			name: "endpoint interface renamed", first: kk(0, "nse-c"), then: kk(0, "nse-c2"),
			// Every l3xc half touching the old tap goes, the old tap goes,
			// a new one comes, and the cross-connect is made anew.
			want: seq(verify, l3xcDel, []string{"tap_delete_v2"}, tapCreate, l3xcAll),
			check: func(t *testing.T, reqs []request) {
				if tap := fakevpp.Of[*tapv2.TapCreateV3](reqs)[0]; tap.HostIfName != "nse-c2" {
					t.Errorf("new tap %q", tap.HostIfName)
				}
			},
		},
		{
			name: "wireguard peer restarted", first: wg(endpointPub, 51821), then: wg(endpointPub2, 51822),
			// The tunnel stays; its peer is replaced.
			want: seq(verify, []string{"wireguard_peer_remove", "wireguard_peer_add"}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := newFakeVPP(t)
			rec := &configRecorder{}
			dp := newDataplane(t, fake.Conn(t), vppxc.WithConfigurer(rec.configure), vppxc.WithPrivateKeys(store))
			ctx := context.Background()
			if err := dp.Program(ctx, tt.first); err != nil {
				t.Fatal(err)
			}
			fake.Take()
			if err := dp.Program(ctx, tt.then); err != nil {
				t.Fatal(err)
			}
			reqs := fake.Take()
			if got := names(reqs); !slices.Equal(got, tt.want) {
				t.Errorf("refresh sent\n  %v\nwant\n  %v", got, tt.want)
			}
			if tt.check != nil {
				tt.check(t, reqs)
			}
			if err := dp.Unprogram(ctx, tt.then); err != nil {
				t.Fatal(err)
			}
			if got := fake.state(); got != "peers 0\n" {
				t.Errorf("VPP after Unprogram:\n%s", got)
			}
		})
	}
}

// TestVPPRestart: when VPP lost the interfaces (it restarted), a refresh
// recreates them instead of trusting stale indexes, which may now belong to
// another interface.
func TestVPPRestart(t *testing.T) {
	fake := newFakeVPP(t)
	rec := &configRecorder{}
	dp := newDataplane(t, fake.Conn(t), vppxc.WithConfigurer(rec.configure))
	ctx := context.Background()
	p := newPair("conn-v", payload.IP, dualStack(0), kernelMech(testNetNS, "nsc-v"), kernelMech(testNetNS, "nse-v"))
	if err := dp.Program(ctx, p); err != nil {
		t.Fatal(err)
	}
	fake.Take()

	// VPP restarts; someone else's interface now has index 1.
	fake.Lock()
	fake.ifs = map[uint32]*fakeIf{1: {kind: "tap", tag: "someone else"}}
	fake.next = 2
	fake.Unlock()

	if err := dp.Program(ctx, p); err != nil {
		t.Fatal(err)
	}
	if got, want := names(fake.Take()), seq(verify, tapCreate, tapCreate, l3xcAll); !slices.Equal(got, want) {
		t.Errorf("refresh after a VPP restart sent\n  %v\nwant\n  %v", got, want)
	}
	if err := dp.Unprogram(ctx, p); err != nil {
		t.Fatal(err)
	}
	fake.Take()
	if tags := fake.tags(); len(tags) != 1 || tags[1] != "someone else" {
		t.Errorf("VPP after Unprogram: %v, want only the foreign interface", tags)
	}
}

// TestLostReply: a create whose reply never came (the caller's context
// ended) may have been carried out. The tap is tagged at creation, so the
// next Program looks for it and adopts it instead of failing on its name.
func TestLostReply(t *testing.T) {
	fake := newFakeVPP(t)
	rec := &configRecorder{}
	dp := newDataplane(t, fake.Conn(t), vppxc.WithConfigurer(rec.configure))
	p := newPair("conn-l", payload.IP, dualStack(0), kernelMech(testNetNS, "nsc-l"), kernelMech(testNetNS, "nse-l"))
	fake.Take()

	fake.DropReply("tap_create_v3", 2)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := dp.Program(ctx, p)
	if err == nil || !strings.Contains(err.Error(), "tap_create_v3: outcome unknown") {
		t.Fatalf("Program = %v, want tap_create_v3's outcome unknown", err)
	}
	if got, want := names(fake.Take()), seq(tapCreate, []string{"tap_create_v3", "tap_delete_v2"}); !slices.Equal(got, want) {
		t.Errorf("sent\n  %v\nwant\n  %v", got, want)
	}
	if tags := fake.tags(); len(tags) != 1 {
		t.Fatalf("VPP holds %v, want the tap whose reply was lost", tags)
	}

	if err := dp.Program(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	// The lost tap is found and adopted; only the first is created again.
	want := seq([]string{"sw_interface_dump"}, tapCreate,
		[]string{"sw_interface_set_rx_mode", "sw_interface_set_mtu", "sw_interface_set_flags"}, l3xcAll)
	if got := names(fake.Take()); !slices.Equal(got, want) {
		t.Errorf("Program after the lost reply sent\n  %v\nwant\n  %v", got, want)
	}
	if err := dp.Unprogram(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if got := fake.state(); got != "peers 0\n" {
		t.Errorf("VPP after Unprogram:\n%s", got)
	}
}
