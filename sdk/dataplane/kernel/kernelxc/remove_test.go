// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package kernelxc_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
	"github.com/vishvananda/netlink"
	"go.uber.org/goleak"

	"github.com/nsmesh/nsmesh/sdk/dataplane/kernel"
	"github.com/nsmesh/nsmesh/sdk/dataplane/kernel/kernelxc"
	"github.com/nsmesh/nsmesh/sdk/internal/netnstest"
	"github.com/nsmesh/nsmesh/sdk/networkservice/xconnect"
)

// flakyDelete is a kernel.DeleteByMark that fails, without deleting
// anything, while fail says so (the way a dump interrupted again and again
// under load fails), and deletes for real otherwise. real false never
// touches the kernel.
type flakyDelete struct {
	fail  func(call int64) bool
	real  bool
	calls atomic.Int64
}

func (f *flakyDelete) del(ctx context.Context, log logrus.FieldLogger, ns *kernel.NetNS, m kernel.Mark) (int, error) {
	n := f.calls.Add(1)
	if f.fail(n) {
		return 0, fmt.Errorf("kernel: list links in %s: %w", ns, netlink.ErrDumpInterrupted)
	}
	if !f.real {
		return 0, nil
	}
	return kernel.DeleteByMark(ctx, log, ns, m)
}

// failFirst fails the first n calls.
func failFirst(n int64) func(int64) bool { return func(c int64) bool { return c <= n } }

// noScan sees no namespace at all.
func noScan() ([]*kernel.NetNS, error) { return nil, nil }

// ownNSPair is a pair whose both ends name this process's namespace, which
// any user can open; with a fake delete nothing touches the kernel.
func ownNSPair(id string) *xconnect.Pair {
	return newPair(id, kernelMech("file:///proc/self/ns/net", "own-a"), kernelMech("file:///proc/self/ns/net", "own-b"), nil, "IP")
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// entries returns the log entries at level whose message contains msg.
func entries(hook *test.Hook, level logrus.Level, msg string) []*logrus.Entry {
	var out []*logrus.Entry
	for _, e := range hook.AllEntries() {
		if e.Level == level && strings.Contains(e.Message, msg) {
			out = append(out, e)
		}
	}
	return out
}

// TestFailedUnprogramIsRetried: the links of a connection whose Unprogram
// failed are deleted again in the background until that succeeds; each
// retry is logged at debug, the success at info, with the connection id.
func TestFailedUnprogramIsRetried(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	const failures = 4
	f := &flakyDelete{fail: failFirst(failures)}
	logger, hook := test.NewNullLogger()
	logger.SetLevel(logrus.DebugLevel)
	dp, err := kernelxc.New(owner(t, "retry"), kernelxc.WithLogger(logger), kernelxc.WithScan(noScan), kernelxc.WithDeleteByMark(f.del))
	if err != nil {
		t.Fatal(err)
	}
	defer dp.Close()

	err = dp.Unprogram(netnstest.Context(t), ownNSPair("flaky"))
	if err == nil || !strings.Contains(err.Error(), "retried in the background") {
		t.Fatalf("Unprogram error %v, want the failure and the retry", err)
	}
	if got := dp.PendingRemovals(); !reflect.DeepEqual(got, []string{"flaky"}) {
		t.Fatalf("pending removals %v", got)
	}
	waitFor(t, "the retried removal", func() bool { return len(dp.PendingRemovals()) == 0 })
	if got := f.calls.Load(); got != failures+1 {
		t.Errorf("%d deletions, want %d (the failed Unprogram, %d failed retries, the one that succeeds)", got, failures+1, failures-1)
	}
	if got := entries(hook, logrus.DebugLevel, "failed again"); len(got) != failures-1 {
		t.Errorf("%d debug entries for failed retries, want %d", len(got), failures-1)
	}
	done := entries(hook, logrus.InfoLevel, "removed the links of a closed connection")
	if len(done) != 1 || done[0].Data["conn"] != "flaky" || done[0].Data["retries"] != failures {
		t.Errorf("success entries %v", done)
	}
	if calls := f.calls.Load(); calls != failures+1 {
		t.Errorf("deletions went on after the success: %d", calls)
	}
}

// TestRemovalPauses: the retries wait 50-100 ms, then about twice as long
// each time, never more than 5 s.
func TestRemovalPauses(t *testing.T) {
	for _, tt := range []struct {
		retry    int
		min, max time.Duration
	}{
		{0, 50 * time.Millisecond, 100 * time.Millisecond},
		{1, 100 * time.Millisecond, 200 * time.Millisecond},
		{3, 400 * time.Millisecond, 800 * time.Millisecond},
		{5, 1600 * time.Millisecond, 3200 * time.Millisecond},
		{6, 2500 * time.Millisecond, 5 * time.Second}, // 6.4 s capped
		{100, 2500 * time.Millisecond, 5 * time.Second},
	} {
		t.Run(fmt.Sprint(tt.retry), func(t *testing.T) {
			lo, hi := time.Duration(1<<62), time.Duration(0)
			for range 1000 {
				d := kernelxc.RemovalPause(tt.retry)
				lo, hi = min(lo, d), max(hi, d)
			}
			if lo < tt.min || hi > tt.max {
				t.Errorf("pauses within [%s, %s], want within [%s, %s]", lo, hi, tt.min, tt.max)
			}
			if hi-lo < (tt.max-tt.min)/2 {
				t.Errorf("pauses within [%s, %s]: no jitter", lo, hi)
			}
		})
	}
}

// TestRetriesStopWithTheDataPlane: Close, or the end of the context given to
// Start, ends the retries (logged as giving up), leaks no goroutine, and a
// later failed Unprogram starts none.
func TestRetriesStopWithTheDataPlane(t *testing.T) {
	for _, tt := range []struct {
		name string
		stop func(dp *kernelxc.Dataplane, cancel context.CancelFunc)
	}{
		{"Close", func(dp *kernelxc.Dataplane, _ context.CancelFunc) { dp.Close() }},
		{"Start context ends", func(_ *kernelxc.Dataplane, cancel context.CancelFunc) { cancel() }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			f := &flakyDelete{fail: func(int64) bool { return true }}
			logger, hook := test.NewNullLogger()
			logger.SetLevel(logrus.DebugLevel)
			dp, err := kernelxc.New(owner(t, "stop"), kernelxc.WithLogger(logger), kernelxc.WithScan(noScan), kernelxc.WithDeleteByMark(f.del))
			if err != nil {
				t.Fatal(err)
			}
			defer dp.Close()
			ctx, cancel := context.WithCancel(netnstest.Context(t))
			defer cancel()
			if _, err := dp.Start(ctx); err != nil {
				t.Fatal(err)
			}
			if err := dp.Unprogram(ctx, ownNSPair("stuck")); err == nil {
				t.Fatal("Unprogram succeeded")
			}
			waitFor(t, "a few retries", func() bool { return f.calls.Load() >= 3 })

			tt.stop(dp, cancel)
			waitFor(t, "the retries to stop", func() bool { return len(dp.PendingRemovals()) == 0 })
			gaveUp := entries(hook, logrus.WarnLevel, "giving up")
			if len(gaveUp) != 1 || gaveUp[0].Data["conn"] != "stuck" {
				t.Errorf("giving-up entries %v", gaveUp)
			}
			err = dp.Unprogram(context.Background(), ownNSPair("stuck"))
			if err == nil || strings.Contains(err.Error(), "retried") {
				t.Errorf("Unprogram after the stop: %v, want a failure without retries", err)
			}
			if got := dp.PendingRemovals(); len(got) != 0 {
				t.Errorf("pending after the stop: %v", got)
			}
			calls := f.calls.Load()
			time.Sleep(300 * time.Millisecond) // three first pauses
			if f.calls.Load() != calls {
				t.Error("deletions went on after the stop")
			}
		})
	}
}

// TestRetryRemovesTheLinks: a veth pair whose Unprogram failed disappears
// through the retries, even after the descriptor its namespace URL named
// has been closed (as fd passing does after the call).
func TestRetryRemovesTheLinks(t *testing.T) {
	netnstest.RequireRoot(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ctx := netnstest.Context(t)
	nsc, nse := netnstest.NewUp(t, "rtc"), netnstest.NewUp(t, "rte")
	f := &flakyDelete{fail: failFirst(3), real: true}
	dp := newDataplane(t, owner(t, "rt"), kernelxc.WithDeleteByMark(f.del))
	defer dp.Close()
	cURL, closeFD := fdURL(t, nsc)
	p := newPair("retried", kernelMech(cURL, "nsm-rt"), kernelMech("file://"+nse.Path(), "srv-rt"), p2pContext(0), "IP")
	if err := dp.Program(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := dp.Unprogram(ctx, p); err == nil {
		t.Fatal("Unprogram succeeded despite the failing deletion")
	}
	closeFD()
	if got := netnstest.Links(t, nsc); len(got) != 1 {
		t.Fatalf("client links after the failed Unprogram: %v", got)
	}
	waitFor(t, "the retried removal", func() bool { return len(dp.PendingRemovals()) == 0 })
	if got := append(netnstest.Links(t, nsc), netnstest.Links(t, nse)...); len(got) != 0 {
		t.Fatalf("left after the retries: %v", got)
	}
	if got := dp.Connections(); len(got) != 0 {
		t.Errorf("connections %v", got)
	}
}

// TestProgramCancelsPendingRemoval: a connection programmed again while its
// removal is being retried is wanted: the retries stop and its links stay.
func TestProgramCancelsPendingRemoval(t *testing.T) {
	netnstest.RequireRoot(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ctx := netnstest.Context(t)
	nsc, nse := netnstest.NewUp(t, "cpc"), netnstest.NewUp(t, "cpe")
	var failing atomic.Bool
	f := &flakyDelete{fail: func(int64) bool { return failing.Load() }, real: true}
	dp := newDataplane(t, owner(t, "cp"), kernelxc.WithDeleteByMark(f.del))
	defer dp.Close()
	p := newPair("again", kernelMech("file://"+nsc.Path(), "nsm-cp"), kernelMech("file://"+nse.Path(), "srv-cp"), p2pContext(0), "IP")
	if err := dp.Program(ctx, p); err != nil {
		t.Fatal(err)
	}
	index := link(t, nsc, "nsm-cp").Attrs().Index
	failing.Store(true)
	if err := dp.Unprogram(ctx, p); err == nil {
		t.Fatal("Unprogram succeeded despite the failing deletion")
	}
	waitFor(t, "a retry", func() bool { return f.calls.Load() >= 2 })

	if err := dp.Program(ctx, p); err != nil {
		t.Fatal(err)
	}
	if got := dp.PendingRemovals(); len(got) != 0 {
		t.Fatalf("removal still pending after Program: %v", got)
	}
	calls := f.calls.Load()
	failing.Store(false) // a retry now would delete the links
	time.Sleep(time.Second)
	if got := f.calls.Load(); got != calls {
		t.Errorf("%d deletions after Program", got-calls)
	}
	if idx := link(t, nsc, "nsm-cp").Attrs().Index; idx != index {
		t.Errorf("the interface was recreated (index %d -> %d)", index, idx)
	}
	if got := dp.Connections(); !reflect.DeepEqual(got, []string{"again"}) {
		t.Errorf("connections %v", got)
	}
	pingBoth(t, nsc, nse)
	if err := dp.Unprogram(ctx, p); err != nil {
		t.Fatal(err)
	}
	if got := append(netnstest.Links(t, nsc), netnstest.Links(t, nse)...); len(got) != 0 {
		t.Fatalf("left: %v", got)
	}
}
