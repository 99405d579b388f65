// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package kernel_test

import (
	"fmt"
	"net/netip"
	"reflect"
	"sort"
	"sync"
	"testing"

	"github.com/nsmesh/nsmesh/sdk/dataplane/kernel"
	"github.com/nsmesh/nsmesh/sdk/internal/netnstest"
)

func ownedSummary(t *testing.T, ns *kernel.NetNS, owner string) []string {
	t.Helper()
	owned, err := kernel.List(ns, owner)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	var out []string
	for _, o := range owned {
		out = append(out, fmt.Sprintf("%s %s %s", o.Name, o.Kind, o.Mark))
	}
	sort.Strings(out)
	return out
}

// TestRestartAdoptsOrPrunes plays a forwarder restart: the links of the
// earlier run are found by scanning all namespaces, the connections still
// known are adopted, the rest are deleted, and another forwarder's links
// are left alone.
func TestRestartAdoptsOrPrunes(t *testing.T) {
	netnstest.RequireRoot(t)
	ctx, log := netnstest.Context(t), netnstest.Logger(t)
	cns, ens := netnstest.New(t, "rc").NetNS, netnstest.New(t, "re").NetNS
	n := netnstest.NewTwoNodes(t, "rr", netip.MustParsePrefix("10.202.0.1/24"), netip.MustParsePrefix("10.202.0.2/24"))
	mine := func(c string) kernel.Mark { return kernel.Mark{Owner: "fwd-a", ConnID: c} }
	keep := kernel.Veth{Mark: mine("keep"), A: kernel.Endpoint{NS: cns, Name: "nsm-keep"}, B: kernel.Endpoint{NS: ens, Name: "nsm-keep"}}
	gone := kernel.Veth{Mark: mine("gone"), A: kernel.Endpoint{NS: cns, Name: "nsm-gone"}, B: kernel.Endpoint{NS: ens, Name: "nsm-gone"}}
	remote := kernel.Vxlan{Mark: mine("remote"), Host: n.NodeA.NetNS, End: kernel.Endpoint{NS: n.WA.NetNS, Name: "nsm-r"},
		VNI: 100, Local: n.IPA.AsSlice(), Remote: n.IPB.AsSlice()}
	theirs := kernel.Veth{Mark: kernel.Mark{Owner: "fwd-b", ConnID: "keep"},
		A: kernel.Endpoint{NS: cns, Name: "other"}, B: kernel.Endpoint{NS: ens, Name: "other"}}
	for _, v := range []kernel.Veth{keep, gone, theirs} {
		if _, err := v.Ensure(ctx, log); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := remote.Ensure(ctx, log); err != nil {
		t.Fatal(err)
	}
	configureBoth(t, cns, "nsm-keep", ens, "nsm-keep", p2pContext())

	// "Restart": nothing of the earlier run but the kernel state is used.
	ours := map[kernel.NSID]string{cns.ID(): "client", ens.ID(): "endpoint", n.WA.NetNS.ID(): "workload A", n.WB.NetNS.ID(): "workload B"}
	scanned, err := kernel.ScanNetNS()
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]*kernel.NetNS{}
	for _, s := range scanned {
		t.Cleanup(func() { _ = s.Close() })
		if role, ok := ours[s.ID()]; ok {
			found[role] = s
		}
	}
	if len(found) != len(ours) {
		t.Fatalf("ScanNetNS found %d of the test's %d workload namespaces", len(found), len(ours))
	}
	want := map[string][]string{
		"client":     {"nsm-gone veth nsm:fwd-a:gone", "nsm-keep veth nsm:fwd-a:keep"},
		"endpoint":   {"nsm-gone veth nsm:fwd-a:gone", "nsm-keep veth nsm:fwd-a:keep"},
		"workload A": {"nsm-r vxlan nsm:fwd-a:remote"},
		"workload B": nil,
	}
	for role, ns := range found {
		if got := ownedSummary(t, ns, "fwd-a"); !reflect.DeepEqual(got, want[role]) {
			t.Errorf("List(%s, fwd-a) = %v, want %v", role, got, want[role])
		}
	}
	if got := ownedSummary(t, found["client"], ""); len(got) != 3 {
		t.Errorf("List(client, any owner) = %v, want 3 links", got)
	}

	deleted := 0
	for _, ns := range found {
		n, err := kernel.Prune(ctx, log, ns, "fwd-a", func(m kernel.Mark) bool { return m.ConnID == "keep" })
		if err != nil {
			t.Fatalf("Prune: %v", err)
		}
		deleted += n
	}
	// "gone" is one pair: whichever namespace is pruned first removes it.
	if deleted != 2 {
		t.Errorf("Prune deleted %d links, want 2 (the stale pair and the vxlan)", deleted)
	}
	if got, want := linkNames(t, cns), []string{"nsm-keep", "other"}; !reflect.DeepEqual(got, want) {
		t.Errorf("client links after prune = %v, want %v", got, want)
	}
	if got := linkNames(t, n.WA.NetNS); len(got) != 0 {
		t.Errorf("workload A links after prune = %v", got)
	}

	// The kept connection is adopted as it is and still carries traffic.
	res, err := keep.Ensure(ctx, log)
	if err != nil || res.Created {
		t.Errorf("adopting = %+v, %v", res, err)
	}
	configureBoth(t, cns, "nsm-keep", ens, "nsm-keep", p2pContext())
	if err := netnstest.Ping(cns, mustAddr("172.16.0.1/32"), mustAddr("172.16.0.0/32"), 3); err != nil {
		t.Errorf("adopted connection: %v", err)
	}

	if n, err := kernel.DeleteByMark(ctx, log, found["endpoint"], keep.Mark); err != nil || n != 1 {
		t.Errorf("DeleteByMark = %d, %v; want 1", n, err)
	}
	if got := linkNames(t, cns); !reflect.DeepEqual(got, []string{"other"}) {
		t.Errorf("client links at the end = %v, want only the other forwarder's", got)
	}
	if _, err := kernel.Prune(ctx, log, cns, "", func(kernel.Mark) bool { return false }); err == nil {
		t.Errorf("Prune without owner succeeded")
	}
}

// TestConcurrentConnections programs many connections between the same two
// namespaces at once, which makes netlink dumps race with changes.
func TestConcurrentConnections(t *testing.T) {
	netnstest.RequireRoot(t)
	ctx, log := netnstest.Context(t), netnstest.Logger(t)
	cns, ens := netnstest.New(t, "cc").NetNS, netnstest.New(t, "ce").NetNS
	const n = 24
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("nsm-%d", i)
			v := kernel.Veth{Mark: kernel.Mark{Owner: "fwd-c", ConnID: fmt.Sprintf("c%d", i)},
				A: kernel.Endpoint{NS: cns, Name: name}, B: kernel.Endpoint{NS: ens, Name: name}}
			if _, err := v.Ensure(ctx, log); err != nil {
				errs[i] = err
				return
			}
			cc := p2pContext()
			cc.IpContext.SrcIpAddrs = []string{fmt.Sprintf("172.17.%d.1/32", i)}
			cc.IpContext.DstIpAddrs = []string{fmt.Sprintf("172.17.%d.0/32", i)}
			cc.IpContext.SrcRoutes = nil
			cc.IpContext.DstRoutes = nil
			for range 2 {
				if err := kernel.Configure(ctx, log, cns, name, kernel.SideSrc, cc); err != nil {
					errs[i] = err
					return
				}
				if err := kernel.Configure(ctx, log, ens, name, kernel.SideDst, cc); err != nil {
					errs[i] = err
					return
				}
			}
			if err := netnstest.Ping(cns, netip.MustParseAddr(fmt.Sprintf("172.17.%d.1", i)), netip.MustParseAddr(fmt.Sprintf("172.17.%d.0", i)), 3); err != nil {
				errs[i] = err
				return
			}
			errs[i] = v.Delete(ctx, log)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("connection %d: %v", i, err)
		}
	}
	for _, ns := range []*kernel.NetNS{cns, ens} {
		if got := linkNames(t, ns); len(got) != 0 {
			t.Errorf("links left in %s: %v", ns, got)
		}
	}
}
