// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package kernel

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/vishvananda/netlink"
)

// Veth is a local KERNEL↔KERNEL connection: one veth pair with end A in one
// namespace and end B in another (by convention A is the client side).
// Both ends are created directly in their namespaces by a single netlink
// request, so the names never exist anywhere else and a failure leaves
// nothing behind.
type Veth struct {
	Mark Mark
	A, B Endpoint
	// MTU of both ends; 0 keeps the kernel default (1500).
	MTU int
}

// VethResult is the pair as it exists after Ensure.
type VethResult struct {
	A, B LinkInfo
	// Created is false when an existing pair was adopted. Only a pair that
	// this call created should be deleted when a later step fails.
	Created bool
}

func (v Veth) validate() error {
	if err := v.Mark.Validate(); err != nil {
		return err
	}
	for _, e := range []Endpoint{v.A, v.B} {
		if e.NS == nil {
			return fmt.Errorf("no namespace for %q", e.Name)
		}
		if err := ValidateIfName(e.Name); err != nil {
			return err
		}
	}
	if v.A.NS.ID() == v.B.NS.ID() && v.A.Name == v.B.Name {
		return fmt.Errorf("both ends are %s", v.A)
	}
	if v.MTU < 0 {
		return fmt.Errorf("negative mtu %d", v.MTU)
	}
	return nil
}

// Ensure creates the pair, or adopts it when both ends already exist, carry
// v.Mark and are each other's peer; adopted ends get the MTU refreshed and
// are set up. Ends that carry v.Mark but do not form that pair are deleted
// and the pair is recreated. A name held by a link without v.Mark is an
// error: such links are never modified.
func (v Veth) Ensure(ctx context.Context, log logrus.FieldLogger) (VethResult, error) {
	start := time.Now()
	if err := v.validate(); err != nil {
		return VethResult{}, fmt.Errorf("kernel: veth %s %s: %w", v.A.Name, v.B.Name, err)
	}
	wrap := func(err error) error {
		return fmt.Errorf("kernel: create veth %s/%s: %w", v.A.Name, v.B.Name, err)
	}
	if err := ctx.Err(); err != nil {
		return VethResult{}, wrap(err)
	}
	log = logger(log).WithFields(logrus.Fields{"conn": v.Mark.ConnID, "a": v.A.String(), "b": v.B.String()})
	ha, err := v.A.NS.handle()
	if err != nil {
		return VethResult{}, wrap(err)
	}
	defer ha.Close()
	hb, err := v.B.NS.handle()
	if err != nil {
		return VethResult{}, wrap(err)
	}
	defer hb.Close()

	la, err := ownedOrAbsent(ha, v.A, v.Mark)
	if err != nil {
		return VethResult{}, wrap(err)
	}
	lb, err := ownedOrAbsent(hb, v.B, v.Mark)
	if err != nil {
		return VethResult{}, wrap(err)
	}
	alias := v.Mark.Alias()
	if la != nil && lb != nil && paired(la, lb) {
		if la, err = refresh(ha, la, v.MTU, alias); err != nil {
			return VethResult{}, wrap(err)
		}
		if lb, err = refresh(hb, lb, v.MTU, alias); err != nil {
			return VethResult{}, wrap(err)
		}
		log.WithField("duration", time.Since(start)).Debug("kernel: adopted veth pair")
		return VethResult{A: info(la), B: info(lb)}, nil
	}
	// Leftovers of ours that do not form the wanted pair (a peer renamed,
	// moved or recreated): remove them so the names are free.
	for _, s := range []struct {
		h *netlink.Handle
		l netlink.Link
	}{{ha, la}, {hb, lb}} {
		if s.l == nil {
			continue
		}
		if err := s.h.LinkDel(s.l); err != nil && !isNotFound(err) {
			return VethResult{}, wrap(fmt.Errorf("remove stale %s: %w", s.l.Attrs().Name, err))
		}
	}

	attrs := netlink.NewLinkAttrs()
	attrs.Name = v.A.Name
	attrs.MTU = v.MTU
	attrs.Alias = alias
	if err := ha.LinkAdd(&netlink.Veth{
		LinkAttrs:     attrs,
		PeerName:      v.B.Name,
		PeerNamespace: netlink.NsFd(v.B.NS.Fd()),
	}); err != nil {
		return VethResult{}, wrap(err)
	}
	res, err := v.finish(ha, hb, alias)
	if err != nil {
		if l, lerr := ha.LinkByName(v.A.Name); lerr == nil {
			err = errors.Join(err, ha.LinkDel(l))
		}
		return VethResult{}, wrap(err)
	}
	log.WithFields(logrus.Fields{"mtu": res.A.MTU, "duration": time.Since(start)}).Info("kernel: created veth pair")
	return res, nil
}

// finish completes what the create request cannot carry: the kernel ignores
// IFLA_IFALIAS in RTM_NEWLINK, so both aliases are set here (a crash in
// between leaves a link that Ensure later reports as not owned), and both
// ends are set up.
func (v Veth) finish(ha, hb *netlink.Handle, alias string) (VethResult, error) {
	la, err := ha.LinkByName(v.A.Name)
	if err != nil {
		return VethResult{}, fmt.Errorf("find %s: %w", v.A, err)
	}
	lb, err := hb.LinkByName(v.B.Name)
	if err != nil {
		return VethResult{}, fmt.Errorf("find peer %s: %w", v.B, err)
	}
	if lb, err = refresh(hb, lb, 0, alias); err != nil {
		return VethResult{}, err
	}
	if la, err = refresh(ha, la, 0, alias); err != nil {
		return VethResult{}, err
	}
	return VethResult{A: info(la), B: info(lb), Created: true}, nil
}

// Delete removes the pair if it carries v.Mark. A missing pair is not an
// error, so Delete is safe to repeat; links without v.Mark are left alone.
// It runs to completion whatever the context's state: cleanup must not be
// cut short by a cancelled request.
func (v Veth) Delete(_ context.Context, log logrus.FieldLogger) error {
	start := time.Now()
	log = logger(log).WithFields(logrus.Fields{"conn": v.Mark.ConnID, "a": v.A.String(), "b": v.B.String()})
	deleted := false
	var errs []error
	for _, e := range []Endpoint{v.A, v.B} {
		if e.NS == nil {
			continue
		}
		ok, err := deleteOwned(e, v.Mark, log)
		deleted = deleted || ok
		if err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("kernel: delete veth %s/%s: %w", v.A.Name, v.B.Name, err)
	}
	if deleted {
		log.WithField("duration", time.Since(start)).Info("kernel: deleted veth pair")
	}
	return nil
}

// deleteOwned deletes e if it exists and carries m.
func deleteOwned(e Endpoint, m Mark, log logrus.FieldLogger) (bool, error) {
	h, err := e.NS.handle()
	if err != nil {
		return false, err
	}
	defer h.Close()
	l, err := lookup(h, e.Name)
	if err != nil {
		return false, fmt.Errorf("find %s: %w", e, err)
	}
	if l == nil {
		return false, nil
	}
	if got, _ := ParseMark(l.Attrs().Alias); got != m {
		log.WithField("alias", l.Attrs().Alias).Debugf("kernel: %s is not ours, left alone", e)
		return false, nil
	}
	if err := h.LinkDel(l); err != nil && !isNotFound(err) {
		return false, fmt.Errorf("delete %s: %w", e, err)
	}
	return true, nil
}

// ownedOrAbsent returns the link called e.Name if it carries m, nil if
// there is no such link, and an error if a link not carrying m holds the name.
func ownedOrAbsent(h *netlink.Handle, e Endpoint, m Mark) (netlink.Link, error) {
	l, err := lookup(h, e.Name)
	if err != nil {
		return nil, fmt.Errorf("find %s: %w", e, err)
	}
	if l == nil {
		return nil, nil
	}
	if got, _ := ParseMark(l.Attrs().Alias); got != m {
		return nil, fmt.Errorf("%s already exists and is not owned by %s (alias %q)", e, m, l.Attrs().Alias)
	}
	return l, nil
}

// paired reports whether a and b are the two ends of one veth: each names
// the other as its peer (IFLA_LINK).
func paired(a, b netlink.Link) bool {
	if a.Type() != "veth" || b.Type() != "veth" {
		return false
	}
	return a.Attrs().ParentIndex == b.Attrs().Index && b.Attrs().ParentIndex == a.Attrs().Index
}
