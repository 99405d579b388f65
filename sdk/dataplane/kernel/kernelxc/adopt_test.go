// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package kernelxc_test

import (
	"context"
	"fmt"
	"net/netip"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/dataplane/kernel"
	"github.com/nsmesh/nsmesh/sdk/dataplane/kernel/kernelxc"
	"github.com/nsmesh/nsmesh/sdk/internal/netnstest"
	"github.com/nsmesh/nsmesh/sdk/networkservice/xconnect"
)

// TestRestartAdoptsThenPrunes plays a forwarder restart: a new Dataplane of
// the same owner finds the links of the earlier run, adopts the connection
// that is re-requested during the grace (its interfaces are not recreated
// and carry traffic throughout), prunes the one nobody claims after the
// grace, and leaves another forwarder's links alone.
func TestRestartAdoptsThenPrunes(t *testing.T) {
	netnstest.RequireRoot(t)
	ctx := netnstest.Context(t)
	nsc, nse := netnstest.NewUp(t, "ac"), netnstest.NewUp(t, "ae")
	n := netnstest.NewTwoNodes(t, "ar", netip.MustParsePrefix("10.215.0.1/24"), netip.MustParsePrefix("10.215.0.2/24"))
	o := owner(t, "adopt")
	first := newDataplane(t, o, kernelxc.WithHostNetNS(n.NodeA.NetNS))
	other := newDataplane(t, owner(t, "other"))

	keep := newPair("keep", kernelMech("file://"+nsc.Path(), "nsm-keep"), kernelMech("file://"+nse.Path(), "srv-keep"), p2pContext(0), "IP")
	gone := newPair("gone", kernelMech("file://"+nsc.Path(), "nsm-gone"), kernelMech("file://"+nse.Path(), "srv-gone"), p2pContext(0), "IP")
	goneRemote := newPair("gone-remote", kernelMech("file://"+n.WA.Path(), "nsm-gr"), vxlanMech(n.IPA, n.IPB, 31), p2pContext(0), "IP")
	theirs := newPair("keep", kernelMech("file://"+nsc.Path(), "their-c"), kernelMech("file://"+nse.Path(), "their-e"), p2pContext(0), "IP")
	for _, p := range []*pairOn{{first, keep}, {first, gone}, {first, goneRemote}, {other, theirs}} {
		if err := p.dp.Program(ctx, p.p); err != nil {
			t.Fatal(err)
		}
	}
	keepIndex := link(t, nsc, "nsm-keep").Attrs().Index

	// The restarted forwarder: nothing of the first instance but the kernel.
	restartCtx, stop := context.WithCancel(ctx)
	defer stop()
	second := newDataplane(t, o, kernelxc.WithHostNetNS(n.NodeA.NetNS), kernelxc.WithAdoptionGrace(time.Second))
	found, err := second.Start(restartCtx)
	if err != nil {
		t.Fatal(err)
	}
	if found != 5 { // two veth pairs (4 ends) and one vxlan device
		t.Errorf("Start found %d links, want 5", found)
	}
	// Within the grace nothing is deleted, and a heal re-request adopts.
	if err := second.Program(ctx, keep); err != nil {
		t.Fatal(err)
	}
	if idx := link(t, nsc, "nsm-keep").Attrs().Index; idx != keepIndex {
		t.Errorf("adoption recreated the interface (index %d -> %d)", keepIndex, idx)
	}
	if got := netnstest.Links(t, n.WA); len(got) != 1 {
		t.Errorf("pruned before the grace ended: %v", got)
	}
	pingBoth(t, nsc, nse)

	deadline := time.Now().Add(10 * time.Second)
	for len(netnstest.Links(t, n.WA)) != 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if got, want := netnstest.Links(t, nsc), []string{"nsm-keep veth", "their-c veth"}; !reflect.DeepEqual(got, want) {
		t.Errorf("client links after the grace %v, want %v", got, want)
	}
	if got, want := netnstest.Links(t, nse), []string{"srv-keep veth", "their-e veth"}; !reflect.DeepEqual(got, want) {
		t.Errorf("endpoint links after the grace %v, want %v", got, want)
	}
	if got := netnstest.Links(t, n.WA); len(got) != 0 {
		t.Errorf("unclaimed vxlan survived the grace: %v", got)
	}
	pingBoth(t, nsc, nse)

	if err := second.Unprogram(ctx, keep); err != nil {
		t.Fatal(err)
	}
	if err := other.Unprogram(ctx, theirs); err != nil {
		t.Fatal(err)
	}
	if got := append(netnstest.Links(t, nsc), netnstest.Links(t, nse)...); len(got) != 0 {
		t.Errorf("left: %v", got)
	}
}

type pairOn struct {
	dp *kernelxc.Dataplane
	p  *xconnect.Pair
}

func TestZeroGracePrunesAtStart(t *testing.T) {
	netnstest.RequireRoot(t)
	ctx := netnstest.Context(t)
	nsc, nse := netnstest.NewUp(t, "zc"), netnstest.NewUp(t, "ze")
	o := owner(t, "zero")
	p := newPair("stale", kernelMech("file://"+nsc.Path(), "nsm-z"), kernelMech("file://"+nse.Path(), "srv-z"), p2pContext(0), "IP")
	if err := newDataplane(t, o).Program(ctx, p); err != nil {
		t.Fatal(err)
	}
	found, err := newDataplane(t, o, kernelxc.WithAdoptionGrace(0)).Start(ctx)
	if err != nil || found != 2 {
		t.Fatalf("Start found %d, %v; want 2", found, err)
	}
	if got := append(netnstest.Links(t, nsc), netnstest.Links(t, nse)...); len(got) != 0 {
		t.Fatalf("left: %v", got)
	}
	if found, err := newDataplane(t, o).Start(ctx); err != nil || found != 0 {
		t.Fatalf("second Start found %d, %v; want 0", found, err)
	}
}

// TestPruneKeepsProgrammedConnections: Prune run at any time keeps what
// this run programmed.
func TestPruneKeepsProgrammedConnections(t *testing.T) {
	netnstest.RequireRoot(t)
	ctx := netnstest.Context(t)
	nsc, nse := netnstest.NewUp(t, "pc"), netnstest.NewUp(t, "pe")
	dp := newDataplane(t, owner(t, "prune"))
	p := newPair("live", kernelMech("file://"+nsc.Path(), "nsm-l"), kernelMech("file://"+nse.Path(), "srv-l"), p2pContext(0), "IP")
	if err := dp.Program(ctx, p); err != nil {
		t.Fatal(err)
	}
	if n, err := dp.Prune(ctx); err != nil || n != 0 {
		t.Fatalf("Prune deleted %d, %v", n, err)
	}
	pingBoth(t, nsc, nse)
	if err := dp.Unprogram(ctx, p); err != nil {
		t.Fatal(err)
	}
	if _, ok := kernel.ParseMark("nsm:" + dp.Owner() + ":live"); !ok {
		t.Fatal("owner does not make a valid mark")
	}
}

// TestPruneDuringConcurrentPrograms: connections being programmed while
// Prune runs are never pruned.
func TestPruneDuringConcurrentPrograms(t *testing.T) {
	netnstest.RequireRoot(t)
	ctx := netnstest.Context(t)
	nsc, nse := netnstest.NewUp(t, "cc"), netnstest.NewUp(t, "ce")
	dp := newDataplane(t, owner(t, "conc"))
	const conns = 12
	errs := make(chan error, conns+1)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Go(func() {
			name := fmt.Sprintf("c%d", i)
			p := newPair(name, kernelMech("file://"+nsc.Path(), name), kernelMech("file://"+nse.Path(), name), &networkservice.ConnectionContext{}, "IP")
			errs <- dp.Program(ctx, p)
		})
		if i == conns/2 {
			wg.Go(func() {
				n, err := dp.Prune(ctx)
				if err == nil && n != 0 {
					err = fmt.Errorf("prune deleted %d links of live connections", n)
				}
				errs <- err
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if got := netnstest.Links(t, nsc); len(got) != conns {
		t.Errorf("%d client links, want %d: %v", len(got), conns, got)
	}
	if n, err := dp.Prune(ctx); err != nil || n != 0 {
		t.Errorf("Prune after the programs deleted %d, %v", n, err)
	}
	if got := len(dp.Connections()); got != conns {
		t.Errorf("%d connections, want %d", got, conns)
	}
}
