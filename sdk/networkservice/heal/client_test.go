// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package heal_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/networkservice/heal"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestNewClientRejectsBadOptions(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts []heal.Option
	}{
		{"zero interval", []heal.Option{heal.WithLivenessCheckInterval(0)}},
		{"negative timeout", []heal.Option{heal.WithLivenessCheckTimeout(-time.Second)}},
		{"zero backoff", []heal.Option{heal.WithBackoff(0, time.Second)}},
		{"max below min", []heal.Option{heal.WithBackoff(time.Second, time.Millisecond)}},
		{"nil logger", []heal.Option{heal.WithLogger(nil)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := heal.NewClient(context.Background(), tt.opts...); err == nil {
				t.Fatal("want an error")
			}
		})
	}
}

// The hop is killed and a fresh one (an nsmgr restart) takes its socket:
// the client must bring the connection back without any call of its own,
// and the way it does depends on the data plane.
func TestRestartedHop(t *testing.T) {
	for _, tt := range []struct {
		name         string
		check        *liveness
		wantReselect bool
	}{
		{"no liveness check: reselect", nil, true},
		{"live data plane: same path, no close", newLiveness(true), false},
		{"dead data plane: reselect", newLiveness(false), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			u := socket(t)
			first := startHop(t, u)
			var opts []heal.Option
			if tt.check != nil {
				// Alive or not, the periodic check must not fire on its own here.
				opts = append(opts, heal.WithLivenessCheck(tt.check.check), heal.WithLivenessCheckInterval(time.Hour))
			}
			nsc := newNSC(t, ctx, u, opts...)
			conn, err := nsc.Request(ctx, newRequest())
			if err != nil {
				t.Fatal(err)
			}
			// The watch is up once the hop has a subscriber.
			waitFor(t, 2*time.Second, "the monitor subscription", func() bool {
				first.mu.Lock()
				defer first.mu.Unlock()
				return len(first.subs) == 1
			})
			first.kill()
			second := startHop(t, u)
			waitFor(t, 5*time.Second, "the heal request at the restarted hop", func() bool {
				reqs, _ := second.calls()
				return len(reqs) > 0
			})
			reqs, closes := second.calls()
			got := reqs[0].GetConnection()
			if tt.wantReselect {
				if got.GetState() != networkservice.State_RESELECT_REQUESTED || got.GetNetworkServiceEndpointName() != "" {
					t.Fatalf("heal request state %v endpoint %q, want a reselect", got.GetState(), got.GetNetworkServiceEndpointName())
				}
			} else {
				if got.GetState() == networkservice.State_RESELECT_REQUESTED || got.GetNetworkServiceEndpointName() != "nse-1" || len(closes) != 0 {
					t.Fatalf("heal request state %v endpoint %q after %d closes, want the same path re-requested", got.GetState(), got.GetNetworkServiceEndpointName(), len(closes))
				}
			}
			// Healed: the client watches again, at the new hop.
			waitFor(t, 2*time.Second, "a new watch", func() bool {
				second.mu.Lock()
				defer second.mu.Unlock()
				return len(second.subs) == 1
			})
			if n, _ := second.calls(); len(n) != 1 {
				t.Fatalf("restarted hop got %d requests, want 1", len(n))
			}
			if _, err := nsc.Close(ctx, conn); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestDownEvent(t *testing.T) {
	for _, tt := range []struct {
		name         string
		alive        bool
		wantReselect bool
	}{
		{"live data plane: same path", true, false},
		{"dead data plane: reselect", false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			u := socket(t)
			h := startHop(t, u)
			check := newLiveness(true)
			nsc := newNSC(t, ctx, u, heal.WithLivenessCheck(check.check), heal.WithLivenessCheckInterval(time.Hour))
			conn, err := nsc.Request(ctx, newRequest())
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, 2*time.Second, "the monitor subscription", func() bool {
				h.mu.Lock()
				defer h.mu.Unlock()
				return len(h.subs) == 1
			})
			check.alive.Store(tt.alive)
			h.setOnRequest(func(*networkservice.NetworkServiceRequest) { check.alive.Store(true) })
			h.down()
			waitFor(t, 5*time.Second, "the heal request", func() bool {
				reqs, _ := h.calls()
				return len(reqs) == 2
			})
			reqs, closes := h.calls()
			st := reqs[1].GetConnection().GetState()
			if tt.wantReselect != (st == networkservice.State_RESELECT_REQUESTED) || tt.wantReselect != (len(closes) == 1) {
				t.Fatalf("heal request state %v after %d closes; want reselect %v", st, len(closes), tt.wantReselect)
			}
			if _, err := nsc.Close(ctx, conn); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A data plane that dies under a healthy control plane is caught by the
// periodic liveness check and reselected.
func TestLivenessCheckTriggersReselect(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	u := socket(t)
	h := startHop(t, u)
	check := newLiveness(true)
	nsc := newNSC(t, ctx, u, heal.WithLivenessCheck(check.check), heal.WithLivenessCheckInterval(20*time.Millisecond))
	conn, err := nsc.Request(ctx, newRequest())
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "periodic checks", func() bool { return check.calls.Load() >= 3 })
	if reqs, _ := h.calls(); len(reqs) != 1 {
		t.Fatalf("a live connection was re-requested %d times", len(reqs)-1)
	}
	h.setOnRequest(func(*networkservice.NetworkServiceRequest) { check.alive.Store(true) })
	check.alive.Store(false)
	start := time.Now()
	waitFor(t, 2*time.Second, "the reselect", func() bool {
		reqs, _ := h.calls()
		return len(reqs) == 2
	})
	t.Logf("reselected %v after the data plane died (interval 20ms)", time.Since(start))
	reqs, closes := h.calls()
	if reqs[1].GetConnection().GetState() != networkservice.State_RESELECT_REQUESTED || len(closes) != 1 {
		t.Fatalf("state %v, closes %d; want a reselect after closing the old path", reqs[1].GetConnection().GetState(), len(closes))
	}
	if _, err := nsc.Close(ctx, conn); err != nil {
		t.Fatal(err)
	}
}

// Re-requests of a live data plane that keep failing switch to reselect as
// soon as the data plane dies.
func TestDataPlaneDiesWhileHealing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	u := socket(t)
	h := startHop(t, u)
	check := newLiveness(true)
	nsc := newNSC(t, ctx, u, heal.WithLivenessCheck(check.check), heal.WithLivenessCheckInterval(time.Hour))
	conn, err := nsc.Request(ctx, newRequest())
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "the monitor subscription", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return len(h.subs) == 1
	})
	h.setFail(status.Error(codes.Unavailable, "forwarder is gone"))
	h.down()
	waitFor(t, 2*time.Second, "two failed re-requests", func() bool {
		reqs, _ := h.calls()
		return len(reqs) >= 3
	})
	for _, r := range func() []*networkservice.NetworkServiceRequest { r, _ := h.calls(); return r }()[1:] {
		if r.GetConnection().GetState() == networkservice.State_RESELECT_REQUESTED {
			t.Fatal("reselected while the data plane was alive")
		}
	}
	check.alive.Store(false)
	h.setOnRequest(func(r *networkservice.NetworkServiceRequest) {
		if r.GetConnection().GetState() == networkservice.State_RESELECT_REQUESTED {
			h.setFail(nil)
			check.alive.Store(true)
		}
	})
	waitFor(t, 2*time.Second, "a reselect", func() bool {
		reqs, _ := h.calls()
		return reqs[len(reqs)-1].GetConnection().GetState() == networkservice.State_RESELECT_REQUESTED
	})
	if _, err := nsc.Close(ctx, conn); err != nil {
		t.Fatal(err)
	}
}

// Failed heal attempts back off: with pauses doubling from 10 ms to 50 ms,
// a hop that refuses for a second sees a few dozen attempts, not thousands.
func TestBackoff(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	u := socket(t)
	h := startHop(t, u)
	nsc := newNSC(t, ctx, u)
	conn, err := nsc.Request(ctx, newRequest())
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "the monitor subscription", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return len(h.subs) == 1
	})
	h.setFail(status.Error(codes.Unavailable, "no forwarder"))
	var (
		mu    sync.Mutex
		times []time.Time
	)
	h.setOnRequest(func(*networkservice.NetworkServiceRequest) {
		mu.Lock()
		defer mu.Unlock()
		times = append(times, time.Now())
	})
	h.down()
	time.Sleep(time.Second)
	h.setOnRequest(nil)
	mu.Lock()
	defer mu.Unlock()
	// 10+20+40 ms, then 50 ms (±20%) each: about 20 attempts in a second.
	if n := len(times); n < 10 || n > 30 {
		t.Fatalf("%d attempts in 1s, want about 20", n)
	}
	for i := 4; i < len(times); i++ {
		if gap := times[i].Sub(times[i-1]); gap < 35*time.Millisecond {
			t.Fatalf("attempt %d came %v after the one before; the backoff is at its 50ms maximum by then", i, gap)
		}
	}
	if _, err := nsc.Close(ctx, conn); err != nil {
		t.Fatal(err)
	}
}

// Closing a connection while it heals stops the heal and every goroutine.
func TestCloseWhileHealing(t *testing.T) {
	for _, tt := range []struct {
		name  string
		check *liveness
	}{
		{"reselecting", nil},
		{"re-requesting", newLiveness(true)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			u := socket(t)
			h := startHop(t, u)
			before := goleak.IgnoreCurrent()
			var opts []heal.Option
			if tt.check != nil {
				opts = append(opts, heal.WithLivenessCheck(tt.check.check), heal.WithLivenessCheckInterval(time.Hour))
			}
			nsc := newNSC(t, ctx, u, opts...)
			conn, err := nsc.Request(ctx, newRequest())
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, 2*time.Second, "the monitor subscription", func() bool {
				h.mu.Lock()
				defer h.mu.Unlock()
				return len(h.subs) == 1
			})
			h.setFail(status.Error(codes.Unavailable, "no forwarder"))
			h.down()
			waitFor(t, 2*time.Second, "heal attempts", func() bool {
				reqs, _ := h.calls()
				return len(reqs) >= 4
			})
			if _, err := nsc.Close(ctx, conn); err != nil {
				t.Fatal(err)
			}
			n, _ := h.calls()
			time.Sleep(200 * time.Millisecond)
			if m, _ := h.calls(); len(m) != len(n) {
				t.Fatalf("%d heal requests after Close", len(m)-len(n))
			}
			goleak.VerifyNone(t, before)
		})
	}
}

// The end of the chain's context stops watches and heals.
func TestChainContextEndStopsHeal(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	u := socket(t)
	h := startHop(t, u)
	before := goleak.IgnoreCurrent()
	chainCtx, stop := context.WithCancel(ctx)
	nsc := newNSC(t, chainCtx, u)
	if _, err := nsc.Request(ctx, newRequest()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "the monitor subscription", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return len(h.subs) == 1
	})
	h.setFail(status.Error(codes.Unavailable, "no forwarder"))
	h.down()
	waitFor(t, 2*time.Second, "heal attempts", func() bool {
		reqs, _ := h.calls()
		return len(reqs) >= 3
	})
	stop()
	goleak.VerifyNone(t, before)
}

// A Request of the caller's own (a refresh) that succeeds while heal is
// retrying ends the heal: the connection is served again.
func TestSuccessfulRefreshEndsHeal(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	u := socket(t)
	h := startHop(t, u)
	nsc := newNSC(t, ctx, u)
	conn, err := nsc.Request(ctx, newRequest())
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "the monitor subscription", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return len(h.subs) == 1
	})
	h.setFail(status.Error(codes.Unavailable, "no forwarder"))
	h.down()
	waitFor(t, 2*time.Second, "heal attempts", func() bool {
		reqs, _ := h.calls()
		return len(reqs) >= 3
	})
	h.setFail(nil)
	// Block heal's own events from succeeding first: the refresh runs now.
	if _, err := nsc.Request(ctx, newRequest()); err != nil {
		t.Fatal(err)
	}
	n, _ := h.calls()
	time.Sleep(300 * time.Millisecond)
	if m, _ := h.calls(); len(m) != len(n) {
		t.Fatalf("heal went on after a successful refresh: %d more requests", len(m)-len(n))
	}
	if _, err := nsc.Close(ctx, conn); err != nil {
		t.Fatal(err)
	}
}
