// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package kernelxc

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/nsmesh/nsmesh/sdk/dataplane/kernel"
)

// Start looks for links of this owner left by an earlier run, in the
// namespaces the scan finds and, with WithStateDir, in the pinned ones. When
// there are some, it prunes the ones no connection has claimed once the
// adoption grace has passed (at once for a zero grace), unless ctx ends or
// Close is called first. It returns the number of leftover links found; the
// prune runs in the background. The end of ctx also ends the retries of
// failed removals.
func (d *Dataplane) Start(ctx context.Context) (int, error) {
	start := time.Now()
	if err := d.pins.check(); err != nil {
		return 0, fmt.Errorf("kernelxc: start: %w", err)
	}
	unhook := context.AfterFunc(ctx, d.stop)
	d.mu.Lock()
	d.unhook = append(d.unhook, unhook)
	d.mu.Unlock()

	scanned, err := d.namespaces()
	if err != nil {
		return 0, fmt.Errorf("kernelxc: start: %w", err)
	}
	found, inNS := 0, 0
	for _, ns := range scanned {
		owned, err := kernel.List(ns, d.owner)
		_ = ns.Close()
		if err != nil {
			continue // the namespace died while scanning
		}
		if len(owned) > 0 {
			inNS++
		}
		for _, o := range owned {
			found++
			d.logger.WithFields(logrus.Fields{"conn": o.Mark.ConnID, "if": o.Name, "kind": o.Kind}).
				Debug("kernelxc: link of an earlier run")
		}
	}
	logger := d.logger.WithFields(logrus.Fields{"links": found, "namespaces": inNS,
		"scanned": len(scanned), "duration": time.Since(start)})
	if found == 0 {
		logger.Info("kernelxc: no links of an earlier run")
		d.sweepPins()
		return 0, nil
	}
	if d.o.grace == 0 {
		logger.Info("kernelxc: pruning the links of an earlier run (no adoption grace)")
		_, err := d.Prune(ctx)
		return found, err
	}
	logger.WithField("grace", d.o.grace).Info("kernelxc: links of an earlier run are kept for adoption; unclaimed ones are pruned after the grace")
	d.goBackground(func() {
		t := time.NewTimer(d.o.grace)
		defer t.Stop()
		select {
		case <-d.life.Done():
		case <-t.C:
			if _, err := d.Prune(d.life); err != nil {
				d.logger.WithError(err).Warn("kernelxc: prune after the adoption grace")
			}
		}
	})
	return found, nil
}

// sweepPins unpins the namespaces no connection of this run uses.
func (d *Dataplane) sweepPins() {
	d.pruneMu.Lock()
	defer d.pruneMu.Unlock()
	if n := d.pins.sweep(d.logger, nil); n > 0 {
		d.logger.WithField("namespaces", n).Info("kernelxc: unpinned namespaces no connection uses")
	}
}

// Prune deletes, in every namespace of the host (those the scan finds and
// the pinned ones), the links of this owner that belong to no connection
// programmed (and not unprogrammed) by this run, and returns how many it
// deleted; then it unpins the namespaces no such connection uses. Program
// and Unprogram wait while it runs.
func (d *Dataplane) Prune(ctx context.Context) (int, error) {
	start := time.Now()
	scanned, err := d.namespaces()
	if err != nil {
		return 0, fmt.Errorf("kernelxc: prune: %w", err)
	}
	defer func() {
		for _, ns := range scanned {
			_ = ns.Close()
		}
	}()
	d.pruneMu.Lock()
	defer d.pruneMu.Unlock()
	d.mu.Lock()
	claimed := make(map[string]bool, len(d.conns))
	for id := range d.conns {
		claimed[id] = true
	}
	d.mu.Unlock()
	keep := func(m kernel.Mark) bool { return claimed[m.ConnID] }
	deleted := 0
	var errs []error
	// A namespace whose leftovers could not all be deleted stays pinned
	// for the next prune.
	failed := make(map[kernel.NSID]bool)
	for _, ns := range scanned {
		n, err := kernel.Prune(ctx, d.logger, ns, d.owner, keep)
		deleted += n
		if err != nil {
			failed[ns.ID()] = true
			if ctx.Err() == nil {
				errs = append(errs, err)
			}
		}
	}
	unpinned := 0
	if ctx.Err() == nil {
		unpinned = d.pins.sweep(d.logger, failed)
	}
	d.logger.WithFields(logrus.Fields{"deleted": deleted, "kept": len(claimed), "unpinned": unpinned, "duration": time.Since(start)}).
		Info("kernelxc: pruned unclaimed links")
	if err := errors.Join(errs...); err != nil {
		return deleted, fmt.Errorf("kernelxc: prune: %w", err)
	}
	return deleted, nil
}
