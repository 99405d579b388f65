// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package vppxc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
	"go.fd.io/govpp/binapi/interface_types"
)

// tagged is an interface found in VPP with a tag of this owner.
type tagged struct {
	idx interface_types.InterfaceIndex
	tag tag
	raw string
}

// findTagged dumps VPP's interfaces and returns those of this owner whose
// tag starts with prefix, in index order.
func (d *Dataplane) findTagged(ctx context.Context, log logrus.FieldLogger, prefix string) ([]tagged, error) {
	dets, err := d.vpp.dump(ctx, log, interface_types.InterfaceIndex(noIndex))
	if err != nil {
		return nil, err
	}
	var out []tagged
	for _, det := range dets {
		if !strings.HasPrefix(det.Tag, prefix) {
			continue
		}
		if t, ok := parseTag(det.Tag); ok && t.owner == d.owner {
			out = append(out, tagged{idx: det.SwIfIndex, tag: t, raw: det.Tag})
		}
	}
	return out, nil
}

// removeTagged deletes an interface known only by its tag: its
// cross-connect is removed first (VPP refusing because there is none is
// fine), then the interface, with the message of its kind.
func (d *Dataplane) removeTagged(ctx context.Context, log logrus.FieldLogger, t tagged) error {
	log = log.WithFields(logrus.Fields{"sw_if_index": t.idx, "tag": t.raw})
	ignoreRefusal := func(err error) error {
		if _, refused := retval(err); refused {
			log.WithError(err).Debug("vppxc: nothing to remove")
			return nil
		}
		return err
	}
	for _, op := range []xcOp{{rx: t.idx}, {rx: t.idx, ip6: true}, {l2: true, rx: t.idx, tx: t.idx}} {
		if err := ignoreRefusal(d.undoXC(ctx, log, op)); err != nil {
			return err
		}
	}
	var err error
	switch t.tag.kind {
	case kindTap:
		err = d.vpp.deleteTap(ctx, log, t.idx)
	case kindWireguard:
		// Deleting the interface removes its peers.
		err = d.vpp.wgDelete(ctx, log, t.idx)
	case kindVxlan:
		det, derr := d.vpp.vxlanDump(ctx, log, t.idx)
		switch {
		case derr != nil:
			err = derr
		case det == nil:
			err = fmt.Errorf("vppxc: interface %d is tagged as a VXLAN tunnel but is none", t.idx)
		default:
			_, err = d.vpp.vxlanTunnel(ctx, log, false, vxlanFromDetails(det))
		}
	}
	if err != nil {
		return err
	}
	log.Info("vppxc: removed an interface no connection claims")
	return nil
}

// start looks for interfaces of this owner left by an earlier run and
// arranges their prune (see New).
func (d *Dataplane) start(ctx context.Context) error {
	begin := time.Now()
	found, err := d.findTagged(ctx, d.logger, tagPrefix+d.owner+":")
	if err != nil {
		return fmt.Errorf("vppxc: looking for interfaces of an earlier run: %w", err)
	}
	logger := d.logger.WithFields(logrus.Fields{"interfaces": len(found), "duration": time.Since(begin)})
	if len(found) == 0 {
		logger.Info("vppxc: no interfaces of an earlier run")
		return nil
	}
	d.mu.Lock()
	d.earlier = make(map[string]bool)
	for _, t := range found {
		d.earlier[t.tag.conn] = true
	}
	d.mu.Unlock()
	if d.o.grace == 0 {
		logger.Info("vppxc: pruning the interfaces of an earlier run (no adoption grace)")
		_, err := d.Prune(ctx)
		return err
	}
	logger.WithField("grace", d.o.grace).Info("vppxc: interfaces of an earlier run are kept for adoption; unclaimed ones are pruned after the grace")
	bg, cancel := context.WithCancel(ctx)
	d.stop, d.done = cancel, make(chan struct{})
	go func() {
		defer close(d.done)
		t := time.NewTimer(d.o.grace)
		defer t.Stop()
		select {
		case <-bg.Done():
		case <-t.C:
			if _, err := d.Prune(bg); err != nil {
				d.logger.WithError(err).Warn("vppxc: prune after the adoption grace")
			}
		}
	}()
	return nil
}

// suspect reports whether VPP may hold interfaces for the connection that
// this run has no record of: left by an earlier run, or created by a
// message whose reply was lost. Only then does a first Program look for
// them, so that a new connection costs no interface dump.
func (d *Dataplane) suspect(key string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.earlier[key]
}

func (d *Dataplane) markSuspect(key string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.earlier == nil {
		d.earlier = make(map[string]bool)
	}
	d.earlier[key] = true
}

// Prune deletes the interfaces of this owner that belong to no connection
// programmed (and not unprogrammed) by this run, and returns how many it
// deleted. Program and Unprogram wait while it runs.
func (d *Dataplane) Prune(ctx context.Context) (int, error) {
	begin := time.Now()
	d.pruneMu.Lock()
	defer d.pruneMu.Unlock()
	found, err := d.findTagged(ctx, d.logger, tagPrefix+d.owner+":")
	if err != nil {
		return 0, fmt.Errorf("vppxc: prune: %w", err)
	}
	d.mu.Lock()
	claimed := make(map[string]bool)
	for _, st := range d.conns {
		for _, s := range st.ifs {
			if s != nil {
				claimed[s.tag] = true
			}
		}
	}
	d.mu.Unlock()
	deleted := 0
	var errs []error
	for _, t := range found {
		if claimed[t.raw] {
			continue
		}
		if err := d.removeTagged(ctx, d.logger, t); err != nil {
			errs = append(errs, err)
			continue
		}
		deleted++
	}
	if len(errs) == 0 {
		d.mu.Lock()
		d.earlier = nil
		d.mu.Unlock()
	}
	d.logger.WithFields(logrus.Fields{"deleted": deleted, "kept": len(claimed), "duration": time.Since(begin)}).
		Info("vppxc: pruned unclaimed interfaces")
	if err := errors.Join(errs...); err != nil {
		return deleted, fmt.Errorf("vppxc: prune: %w", err)
	}
	return deleted, nil
}
