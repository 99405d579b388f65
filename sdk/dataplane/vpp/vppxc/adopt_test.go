// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package vppxc_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nsmesh/nsmesh/apis/networkservice/payload"
	"github.com/nsmesh/nsmesh/sdk/dataplane/vpp/vppxc"
	"github.com/nsmesh/nsmesh/sdk/networkservice/xconnect"
)

// TestRestartAdoptsAndPrunes: a restarted forwarder adopts the interfaces
// of the connections that come back and prunes the others when the grace
// ends; another owner's interfaces and untagged ones are never touched.
func TestRestartAdoptsAndPrunes(t *testing.T) {
	fake := newFakeVPP(t)
	conn := fake.Conn(t)
	rec := &configRecorder{}
	ctx := context.Background()
	back := newPair("conn-back", payload.Ethernet, dualStack(0), kernelMech(testNetNS, "nsc-b"), vxlanMech("192.0.2.1", "192.0.2.2", 11, 0, 0))
	gone := newPair("conn-gone", payload.IP, dualStack(0), kernelMech(testNetNS, "nsc-g"), kernelMech(testNetNS, "nse-g"))
	moved := newPair("conn-moved", payload.IP, dualStack(0), kernelMech(testNetNS, "nsc-m"), kernelMech(testNetNS, "nse-m"))

	first := newDataplane(t, conn, vppxc.WithConfigurer(rec.configure))
	other := newDataplane(t, conn, vppxc.WithConfigurer(rec.configure), vppxc.WithOwner("fwd2"))
	for _, p := range []*xconnect.Pair{back, gone, moved} {
		if err := first.Program(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	foreign := newPair("conn-back", payload.IP, dualStack(0), kernelMech(testNetNS, "nsc-o"), kernelMech(testNetNS, "nse-o"))
	if err := other.Program(ctx, foreign); err != nil {
		t.Fatal(err)
	}
	fake.Lock()
	fake.ifs[fake.next] = &fakeIf{kind: "tap", tag: "not ours"}
	fake.next++
	fake.Unlock()
	first.Close() // the forwarder stops; VPP keeps its interfaces
	before := fake.tags()
	fake.Take()

	// The restarted forwarder waits for the connections to come back.
	second := newDataplane(t, conn, vppxc.WithConfigurer(rec.configure), vppxc.WithAdoptionGrace(time.Hour))
	if got := names(fake.Take()); !slices.Equal(got, []string{"sw_interface_dump"}) {
		t.Errorf("New sent %v, want one dump", got)
	}
	if got := fake.tags(); len(got) != len(before) {
		t.Errorf("New removed interfaces during the grace: %v, was %v", got, before)
	}

	// A connection that comes back unchanged is adopted: nothing is
	// created, the settings and the cross-connect are asserted again.
	if err := second.Program(ctx, back); err != nil {
		t.Fatal(err)
	}
	want := seq([]string{"sw_interface_dump",
		"sw_interface_set_rx_mode", "sw_interface_set_mtu", "sw_interface_set_flags",
		"sw_interface_set_mtu", "sw_interface_set_flags"}, l2xcBoth)
	if got := names(fake.Take()); !slices.Equal(got, want) {
		t.Errorf("Program of a connection of the earlier run sent\n  %v\nwant\n  %v", got, want)
	}
	// A connection that comes back with another endpoint interface keeps
	// its client tap and gets a new endpoint tap; the old one is removed.
	moved2 := newPair("conn-moved", payload.IP, dualStack(0), kernelMech(testNetNS, "nsc-m"), kernelMech(testNetNS, "nse-m2"))
	if err := second.Program(ctx, moved2); err != nil {
		t.Fatal(err)
	}
	want = seq([]string{"sw_interface_dump",
		// the old endpoint tap, known by its tag only: its cross-connect
		// (both families, L2) and itself
		"l3xc_del", "l3xc_del", "sw_interface_set_l2_xconnect", "tap_delete_v2",
		// the adopted client tap
		"sw_interface_set_rx_mode", "sw_interface_set_mtu", "sw_interface_set_flags"},
		tapCreate, l3xcAll)
	if got := names(fake.Take()); !slices.Equal(got, want) {
		t.Errorf("Program of a changed connection sent\n  %v\nwant\n  %v", got, want)
	}

	n, err := second.Prune(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("Prune deleted %d interfaces, want conn-gone's 2", n)
	}
	want = []string{"sw_interface_dump",
		"l3xc_del", "l3xc_del", "sw_interface_set_l2_xconnect", "tap_delete_v2",
		"l3xc_del", "l3xc_del", "sw_interface_set_l2_xconnect", "tap_delete_v2"}
	if got := names(fake.Take()); !slices.Equal(got, want) {
		t.Errorf("Prune sent\n  %v\nwant\n  %v", got, want)
	}
	var mine, theirs, untagged int
	for _, tag := range fake.tags() {
		switch {
		case strings.HasPrefix(tag, "nsm:fwd1:conn-gone:"):
			t.Errorf("pruned connection's interface %q is still there", tag)
		case strings.HasPrefix(tag, "nsm:fwd1:"):
			mine++
		case strings.HasPrefix(tag, "nsm:fwd2:"):
			theirs++
		default:
			untagged++
		}
	}
	if mine != 4 || theirs != 2 || untagged != 1 {
		t.Errorf("after Prune: %d of ours (want 4), %d of fwd2 (want 2), %d untagged (want 1)", mine, theirs, untagged)
	}
	for _, p := range []*xconnect.Pair{back, moved2} {
		if err := second.Unprogram(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
}

// TestUnprogramAfterRestart: a Close that reaches a forwarder which never
// programmed the connection removes what the earlier run tagged for it.
func TestUnprogramAfterRestart(t *testing.T) {
	fake := newFakeVPP(t)
	conn := fake.Conn(t)
	rec := &configRecorder{}
	ctx := context.Background()
	p := newPair("conn-u", payload.Ethernet, dualStack(0), kernelMech(testNetNS, "nsc-u"), vxlanMech("192.0.2.1", "192.0.2.2", 12, 0, 0))
	first := newDataplane(t, conn, vppxc.WithConfigurer(rec.configure))
	if err := first.Program(ctx, p); err != nil {
		t.Fatal(err)
	}
	first.Close()
	second := newDataplane(t, conn, vppxc.WithConfigurer(rec.configure))
	fake.Take()
	if err := second.Unprogram(ctx, p); err != nil {
		t.Fatal(err)
	}
	want := []string{"sw_interface_dump",
		"l3xc_del", "l3xc_del", "sw_interface_set_l2_xconnect", "tap_delete_v2",
		// a tunnel known by its tag only is looked up to be deleted
		"l3xc_del", "l3xc_del", "sw_interface_set_l2_xconnect", "vxlan_tunnel_v2_dump", "vxlan_add_del_tunnel_v3"}
	if got := names(fake.Take()); !slices.Equal(got, want) {
		t.Errorf("Unprogram sent\n  %v\nwant\n  %v", got, want)
	}
	if got := fake.state(); got != "peers 0\n" {
		t.Errorf("VPP after Unprogram:\n%s", got)
	}
}

func TestPruneAfterGrace(t *testing.T) {
	tests := []struct {
		name  string
		grace time.Duration
	}{
		{name: "no grace prunes in New"},
		{name: "grace prunes later", grace: 50 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := newFakeVPP(t)
			conn := fake.Conn(t)
			rec := &configRecorder{}
			first := newDataplane(t, conn, vppxc.WithConfigurer(rec.configure))
			p := newPair("conn-p", payload.IP, dualStack(0), kernelMech(testNetNS, "nsc-p"), kernelMech(testNetNS, "nse-p"))
			if err := first.Program(context.Background(), p); err != nil {
				t.Fatal(err)
			}
			first.Close()
			newDataplane(t, conn, vppxc.WithConfigurer(rec.configure), vppxc.WithAdoptionGrace(tt.grace))
			if tt.grace > 0 && len(fake.tags()) != 2 {
				t.Fatalf("pruned before the grace ended: %v", fake.tags())
			}
			deadline := time.Now().Add(10 * time.Second)
			for len(fake.tags()) != 0 {
				if time.Now().After(deadline) {
					t.Fatalf("not pruned: %v", fake.tags())
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}

// TestCloseStopsPendingPrune: Close before the grace ends leaves the
// interfaces and the background goroutine ends (goleak checks).
func TestCloseStopsPendingPrune(t *testing.T) {
	fake := newFakeVPP(t)
	conn := fake.Conn(t)
	rec := &configRecorder{}
	first := newDataplane(t, conn, vppxc.WithConfigurer(rec.configure))
	p := newPair("conn-s", payload.IP, dualStack(0), kernelMech(testNetNS, "nsc-s"), kernelMech(testNetNS, "nse-s"))
	if err := first.Program(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	first.Close()
	second := newDataplane(t, conn, vppxc.WithConfigurer(rec.configure), vppxc.WithAdoptionGrace(time.Hour))
	second.Close()
	second.Close()
	if got := len(fake.tags()); got != 2 {
		t.Errorf("%d interfaces after Close, want the 2 of the earlier run", got)
	}
}
