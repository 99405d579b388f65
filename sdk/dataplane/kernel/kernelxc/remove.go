// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package kernelxc

import (
	"context"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/nsmesh/nsmesh/sdk/dataplane/kernel"
)

// The pause before the n-th retry of a failed removal doubles from
// removalFirstPause up to removalMaxPause.
const (
	removalFirstPause = 100 * time.Millisecond
	removalMaxPause   = 5 * time.Second
)

// removal is a connection whose links Unprogram could not all delete; they
// are deleted again in the background until that succeeds.
type removal struct {
	refs   []linkRef
	cancel context.CancelFunc
	done   chan struct{}
}

// removalPause is the wait before retry n (from 0): removalFirstPause
// doubled n times, at most removalMaxPause, then shortened at random by up
// to half so that removals that failed together do not retry together.
func removalPause(n int) time.Duration {
	d := removalMaxPause
	if n < 16 {
		d = min(removalFirstPause<<n, removalMaxPause)
	}
	return d/2 + rand.N(d/2+1)
}

// keepRemoving retries deleting the links of connection id in the
// background. It reports false, and starts nothing, when the data plane is
// stopping.
func (d *Dataplane) keepRemoving(id string, refs []linkRef) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed || d.life.Err() != nil {
		return false
	}
	ctx, cancel := context.WithCancel(d.life)
	r := &removal{refs: refs, cancel: cancel, done: make(chan struct{})}
	d.removals[id] = r
	d.bg.Go(func() {
		defer close(r.done)
		defer cancel()
		d.retryRemoval(ctx, id, r)
	})
	return true
}

func (d *Dataplane) retryRemoval(ctx context.Context, id string, r *removal) {
	logger := d.logger.WithField("conn", id)
	m := kernel.Mark{Owner: d.owner, ConnID: id}
	start := time.Now()
	pause := removalPause(0)
	for attempt := 1; ; attempt++ {
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			d.forgetRemoval(id, r)
			if d.life.Err() != nil {
				logger.WithFields(logrus.Fields{"retries": attempt - 1, "duration": time.Since(start)}).
					Warn("kernelxc: giving up removing the links of a closed connection: the data plane stops; the next run prunes them")
			} else {
				logger.WithField("retries", attempt-1).
					Info("kernelxc: removal of the links of a closed connection cancelled: the connection is programmed again")
			}
			return
		case <-t.C:
		}
		d.pruneMu.RLock()
		err := d.deleteLinks(ctx, logger, m, r.refs)
		d.pruneMu.RUnlock()
		if err == nil {
			d.pins.keepOnly(id, nil, logger)
			d.forgetRemoval(id, r)
			logger.WithFields(logrus.Fields{"retries": attempt, "duration": time.Since(start)}).
				Info("kernelxc: removed the links of a closed connection")
			return
		}
		pause = removalPause(attempt)
		logger.WithError(err).WithFields(logrus.Fields{"retry": attempt, "retry_in": pause}).
			Debug("kernelxc: removing the links of a closed connection failed again; retrying")
	}
}

// forgetRemoval drops r from the pending removals unless another took its
// place.
func (d *Dataplane) forgetRemoval(id string, r *removal) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.removals[id] == r {
		delete(d.removals, id)
	}
}

// cancelRemoval stops the pending removal of connection id, if any, and
// waits until its retry loop has returned, so that no retry deletes links
// the caller is about to create.
func (d *Dataplane) cancelRemoval(id string) {
	d.mu.Lock()
	r := d.removals[id]
	delete(d.removals, id)
	d.mu.Unlock()
	if r != nil {
		r.cancel()
		<-r.done
	}
}

// PendingRemovals returns the ids of the closed connections whose links are
// still being removed in the background, sorted.
func (d *Dataplane) PendingRemovals() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]string, 0, len(d.removals))
	for id := range d.removals {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}
