// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package kernelxc_test

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/dataplane/kernel"
	"github.com/nsmesh/nsmesh/sdk/dataplane/kernel/kernelxc"
	"github.com/nsmesh/nsmesh/sdk/internal/netnstest"
	"github.com/nsmesh/nsmesh/sdk/networkservice/xconnect"
)

// stateDir is a state directory for this test. At cleanup, before the
// directory is removed, whatever is still mounted under it is unmounted, so
// that no pin outlives the test whatever its outcome.
func stateDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Cleanup(func() {
		for _, m := range mountsUnder(t, dir) {
			if err := unix.Unmount(m, unix.MNT_DETACH); err != nil {
				t.Errorf("unmount %s: %v", m, err)
			}
		}
	})
	return dir
}

// mountsUnder lists the mount points of this mount namespace under dir.
func mountsUnder(t *testing.T, dir string) []string {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && strings.HasPrefix(fields[4], dir+"/") {
			out = append(out, fields[4])
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// pinned returns the identities of the namespaces pinned in dir, sorted.
func pinned(t *testing.T, dir string) []kernel.NSID {
	t.Helper()
	var out []kernel.NSID
	err := filepath.WalkDir(dir, func(path string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		var st unix.Stat_t
		if err := unix.Stat(path, &st); err != nil {
			return err
		}
		out = append(out, kernel.NSID{Dev: st.Dev, Ino: st.Ino})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return sortIDs(out)
}

func ids(nss ...testNS) []kernel.NSID {
	var out []kernel.NSID
	for _, ns := range nss {
		out = append(out, ns.ID())
	}
	return sortIDs(out)
}

func sortIDs(s []kernel.NSID) []kernel.NSID {
	slices.SortFunc(s, func(a, b kernel.NSID) int {
		if a.Dev != b.Dev {
			return int(a.Dev) - int(b.Dev)
		}
		if a.Ino < b.Ino {
			return -1
		}
		if a.Ino > b.Ino {
			return 1
		}
		return 0
	})
	return s
}

// hiding is the host scan without the given namespaces: what a forwarder in
// a container sees when /proc shows none of the workloads' processes.
func hiding(nss ...testNS) kernelxc.Option {
	hidden := make(map[kernel.NSID]bool)
	for _, ns := range nss {
		hidden[ns.ID()] = true
	}
	return kernelxc.WithScan(func() ([]*kernel.NetNS, error) {
		all, err := kernel.ScanNetNS()
		var out []*kernel.NetNS
		for _, ns := range all {
			if hidden[ns.ID()] {
				_ = ns.Close()
			} else {
				out = append(out, ns)
			}
		}
		return out, err
	})
}

// TestRestartPrunesThroughRememberedNamespaces: a forwarder that cannot
// scan its workloads' namespaces stops (without unprogramming one
// connection, and giving up the removal of another whose deletion kept
// failing), and the descriptors it was handed are gone. Its restart finds
// the leftovers through the namespaces pinned in the state directory,
// adopts the connection that is requested again, prunes the others after
// the grace, and unpins every namespace no connection uses any more. A run
// without the state directory finds nothing: the namespaces are really
// hidden from the scan.
func TestRestartPrunesThroughRememberedNamespaces(t *testing.T) {
	netnstest.RequireRoot(t)
	ctx := netnstest.Context(t)
	c1, e1 := netnstest.NewUp(t, "pk-c"), netnstest.NewUp(t, "pk-e")   // "keep": requested again
	c2, e2 := netnstest.NewUp(t, "pg-c"), netnstest.NewUp(t, "pg-e")   // "gone": closed, deletion failed
	c3, e3 := netnstest.NewUp(t, "pcr-c"), netnstest.NewUp(t, "pcr-e") // "crash": never closed
	all := []testNS{c1, e1, c2, e2, c3, e3}
	state := stateDir(t)
	o := owner(t, "pin")
	hide := hiding(all...)

	// The first run: the namespaces arrive as descriptors.
	failing := &flakyDelete{fail: func(int64) bool { return true }}
	first := newDataplane(t, o, hide, kernelxc.WithStateDir(state), kernelxc.WithDeleteByMark(failing.del))
	pair := func(id string, c, e testNS) *fdPair {
		cURL, closeC := fdURL(t, c)
		eURL, closeE := fdURL(t, e)
		return &fdPair{p: newPair(id, kernelMech(cURL, "nsm-"+id), kernelMech(eURL, "srv-"+id), p2pContext(0), "IP"),
			close: func() { closeC(); closeE() }}
	}
	keep, gone, crash := pair("keep", c1, e1), pair("gone", c2, e2), pair("crash", c3, e3)
	for _, p := range []*fdPair{keep, gone, crash} {
		if err := first.Program(ctx, p.p); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := pinned(t, state), ids(all...); !reflect.DeepEqual(got, want) {
		t.Fatalf("pinned %v, want %v", got, want)
	}
	if err := first.Unprogram(ctx, gone.p); err == nil {
		t.Fatal("Unprogram succeeded despite the failing deletion")
	}
	first.Close() // gives the removal up
	for _, p := range []*fdPair{keep, gone, crash} {
		p.close()
	}
	if got := netnstest.Links(t, c2); len(got) != 1 {
		t.Fatalf("links of the failed removal: %v", got)
	}

	blind := newDataplane(t, o, hide, kernelxc.WithAdoptionGrace(0))
	if found, err := blind.Start(ctx); err != nil || found != 0 {
		t.Fatalf("a run without the state dir found %d links (%v): the scan does not hide the namespaces", found, err)
	}

	restartCtx, stop := context.WithCancel(ctx)
	defer stop()
	second := newDataplane(t, o, hide, kernelxc.WithStateDir(state), kernelxc.WithAdoptionGrace(time.Second))
	found, err := second.Start(restartCtx)
	if err != nil {
		t.Fatal(err)
	}
	if found != 6 {
		t.Errorf("Start found %d links, want 6 (three veth pairs)", found)
	}
	index := link(t, c1, "nsm-keep").Attrs().Index
	keep = pair("keep", c1, e1) // the heal hands the namespaces over again
	if err := second.Program(ctx, keep.p); err != nil {
		t.Fatal(err)
	}
	if idx := link(t, c1, "nsm-keep").Attrs().Index; idx != index {
		t.Errorf("adoption recreated the interface (index %d -> %d)", index, idx)
	}
	waitFor(t, "the prune after the grace", func() bool { return len(netnstest.Links(t, c2))+len(netnstest.Links(t, c3)) == 0 })
	for _, ns := range []testNS{c2, e2, c3, e3} {
		if got := netnstest.Links(t, ns); len(got) != 0 {
			t.Errorf("left in %s: %v", ns.Name, got)
		}
	}
	waitFor(t, "the unused namespaces to be unpinned", func() bool { return len(pinned(t, state)) == 2 })
	if got, want := pinned(t, state), ids(c1, e1); !reflect.DeepEqual(got, want) {
		t.Errorf("pinned after the prune %v, want %v", got, want)
	}
	pingBoth(t, c1, e1)

	if err := second.Unprogram(ctx, keep.p); err != nil {
		t.Fatal(err)
	}
	if got := append(netnstest.Links(t, c1), netnstest.Links(t, e1)...); len(got) != 0 {
		t.Errorf("left: %v", got)
	}
	if got := mountsUnder(t, state); len(got) != 0 {
		t.Errorf("mounts left after the last connection closed: %v", got)
	}
	if got := pinned(t, state); len(got) != 0 {
		t.Errorf("pin files left: %v", got)
	}
}

type fdPair struct {
	p     *xconnect.Pair
	close func()
}

// TestPinsFollowConnections: a namespace stays pinned exactly while a
// connection of this run uses it: shared namespaces until the last one
// closes, the old namespace of a connection moved by a refresh not at all.
func TestPinsFollowConnections(t *testing.T) {
	netnstest.RequireRoot(t)
	ctx := netnstest.Context(t)
	c, e1, e2, e3 := netnstest.NewUp(t, "fc"), netnstest.NewUp(t, "fe1"), netnstest.NewUp(t, "fe2"), netnstest.NewUp(t, "fe3")
	state := stateDir(t)
	dp := newDataplane(t, owner(t, "follow"), kernelxc.WithStateDir(state))
	if _, err := dp.Start(ctx); err != nil {
		t.Fatal(err)
	}
	a := newPair("a", kernelMech("file://"+c.Path(), "nsm-a"), kernelMech("file://"+e1.Path(), "srv-a"), p2pContext(0), "IP")
	b := newPair("b", kernelMech("file://"+c.Path(), "nsm-b"), kernelMech("file://"+e2.Path(), "srv-b"), &networkservice.ConnectionContext{}, "IP")
	step := func(what string, f func() error, want []kernel.NSID) {
		t.Helper()
		if err := f(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if got := pinned(t, state); !reflect.DeepEqual(got, want) {
			t.Errorf("after %s: pinned %v, want %v", what, got, want)
		}
	}
	step("program a", func() error { return dp.Program(ctx, a) }, ids(c, e1))
	step("program b", func() error { return dp.Program(ctx, b) }, ids(c, e1, e2))
	step("refresh a", func() error { return dp.Program(ctx, a) }, ids(c, e1, e2))
	step("unprogram a", func() error { return dp.Unprogram(ctx, a) }, ids(c, e2))
	b.Downstream.Mechanism = kernelMech("file://"+e3.Path(), "srv-b")
	step("move b", func() error { return dp.Program(ctx, b) }, ids(c, e3))
	step("prune", func() error { _, err := dp.Prune(ctx); return err }, ids(c, e3))
	step("unprogram b", func() error { return dp.Unprogram(ctx, b) }, nil)
	if got := mountsUnder(t, state); len(got) != 0 {
		t.Errorf("mounts left: %v", got)
	}
	for _, ns := range []testNS{c, e1, e2, e3} {
		if got := netnstest.Links(t, ns); len(got) != 0 {
			t.Errorf("left in %s: %v", ns.Name, got)
		}
	}
}

// TestStatePins: Start removes pin files whose mount is gone (a reboot, or
// the end of the mount namespace that held them), and refuses a state
// directory it cannot use.
func TestStatePins(t *testing.T) {
	netnstest.RequireRoot(t)
	ctx := netnstest.Context(t)
	state := stateDir(t)
	o := owner(t, "stale")
	dir := filepath.Join(state, o+".netns")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, "4-4026599999")
	if err := os.WriteFile(stale, nil, 0o400); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "notes.txt") // not a pin name: left alone
	if err := os.WriteFile(other, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if found, err := newDataplane(t, o, kernelxc.WithStateDir(state), kernelxc.WithScan(noScan)).Start(ctx); err != nil || found != 0 {
		t.Fatalf("Start found %d, %v", found, err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale pin file: %v", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("other file: %v", err)
	}

	notDir := filepath.Join(state, "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := newDataplane(t, o, kernelxc.WithStateDir(notDir)).Start(ctx); err == nil || !strings.Contains(err.Error(), "state dir") {
		t.Errorf("Start with a file as state dir: %v", err)
	}
	if _, err := kernelxc.New(o, kernelxc.WithStateDir("relative/dir")); err == nil {
		t.Error("relative state dir accepted")
	}
	if got := mountsUnder(t, state); len(got) != 0 {
		t.Errorf("mounts left: %v", got)
	}
}
