// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package vppxc

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"go.fd.io/govpp/api"
	"go.fd.io/govpp/binapi/interface_types"
	"go.fd.io/govpp/binapi/ip_types"
	"go.fd.io/govpp/binapi/vxlan"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/dataplane/kernel"
	"github.com/nsmesh/nsmesh/sdk/networkservice/xconnect"
	"github.com/nsmesh/nsmesh/sdk/tools/log"
)

// ifState is one VPP interface of a connection.
type ifState struct {
	end end
	tag string
	idx interface_types.InterfaceIndex
	mtu int
	// vxlan is the request that created a VXLAN tunnel: VPP deletes a
	// tunnel by its parameters, so it is sent again with is_add=0.
	vxlan *vxlan.VxlanAddDelTunnelV3
	// peer and peerIndex: a WireGuard interface's peer, when added.
	peer      *peer
	peerIndex uint32
}

// xcOp is one half of the cross-connect: what enters rx leaves by tx.
// l2 means sw_interface_set_l2_xconnect; otherwise an l3xc of one family
// with an optional next hop.
type xcOp struct {
	l2      bool
	rx, tx  interface_types.InterfaceIndex
	ip6     bool
	nextHop netip.Addr
}

// connState is what VPP holds for a connection after the last Program.
type connState struct {
	ifs [2]*ifState
	xc  []xcOp
}

// Dataplane programs connections into VPP with taps, VXLAN and WireGuard
// tunnels and L2/L3 cross-connects.
type Dataplane struct {
	owner  string
	o      options
	vpp    *vppAPI
	logger logrus.FieldLogger

	// pruneMu keeps Prune from running while a Program or Unprogram is in
	// flight: Prune decides from the set of programmed connections.
	pruneMu sync.RWMutex

	mu    sync.Mutex
	conns map[string]*connState
	// earlier holds the connection keys (as in tags) for which VPP may have
	// interfaces this run has no record of (see suspect).
	earlier map[string]bool

	stop context.CancelFunc
	done chan struct{}
}

// New returns the data plane on conn. It looks for interfaces an earlier run
// of the same owner left in VPP: they are kept for the adoption grace, during
// which Program adopts those it asks for again, and the others are pruned
// when the grace ends (unless ctx ends first; at once for a zero grace).
// Close stops the pending prune.
func New(ctx context.Context, conn api.Connection, opts ...Option) (*Dataplane, error) {
	o := options{
		owner:       DefaultOwner,
		logger:      log.Discard(),
		vxlanPort:   DefaultVxlanPort,
		keepalive:   DefaultWireGuardKeepalive,
		underlayMTU: DefaultUnderlayMTU,
		grace:       DefaultAdoptionGrace,
		configure:   kernel.Configure,
	}
	for _, opt := range opts {
		opt(&o)
	}
	switch {
	case conn == nil:
		return nil, errors.New("vppxc: nil VPP connection")
	case o.grace < 0:
		return nil, fmt.Errorf("vppxc: negative adoption grace %s", o.grace)
	case o.keepalive < 0 || o.keepalive > 0xffff*time.Second:
		return nil, fmt.Errorf("vppxc: WireGuard keepalive %s is out of range", o.keepalive)
	case o.underlayMTU < minMTU+wireguardOverheadIPv6:
		return nil, fmt.Errorf("vppxc: underlay MTU %d is too small to carry tunnels", o.underlayMTU)
	case o.vxlanPort == 0:
		return nil, errors.New("vppxc: VXLAN port 0")
	}
	if err := validateOwner(o.owner); err != nil {
		return nil, err
	}
	logger := o.logger.WithField("element", "vppxc")
	d := &Dataplane{
		owner:  o.owner,
		o:      o,
		vpp:    newVPPAPI(conn, logger),
		logger: logger,
		conns:  make(map[string]*connState),
	}
	if err := d.start(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

// Owner returns the owner written into interface tags.
func (d *Dataplane) Owner() string { return d.owner }

// Close stops the prune that waits for the adoption grace to end. It does
// not touch VPP: the interfaces of live connections stay, for the next run
// to adopt.
func (d *Dataplane) Close() {
	if d.stop != nil {
		d.stop()
		<-d.done
	}
}

// Program creates, adopts or keeps the interfaces of p, cross-connects them
// and configures the workload side. See the package documentation.
func (d *Dataplane) Program(ctx context.Context, p *xconnect.Pair) error {
	start := time.Now()
	pl, err := d.makePlan(p)
	if err != nil {
		return err
	}
	d.pruneMu.RLock()
	defer d.pruneMu.RUnlock()
	logger := d.logger.WithField("conn", p.ID)

	// The taps' namespaces: their identity is part of the tags, and the
	// workload side is configured in them at the end.
	var nss [2]*kernel.NetNS
	defer func() {
		for _, ns := range nss {
			if ns != nil {
				_ = ns.Close()
			}
		}
	}()
	key := connKey(d.owner, p.ID)
	var tags [2]string
	for i, e := range pl.ends {
		var id kernel.NSID
		if e.kind == kindTap {
			ns, err := kernel.OpenNetNS(e.nsPath)
			if err != nil {
				return fmt.Errorf("vppxc: connection %s: %w", p.ID, err)
			}
			nss[i], id = ns, ns.ID()
		}
		tags[i] = tag{owner: d.owner, conn: key, role: e.role, kind: e.kind, hash: identityHash(e.identity(id))}.String()
	}

	r := &run{d: d, ctx: ctx, log: logger, pl: pl, key: key}
	r.prev = d.take(p.ID)
	if err := r.reuse(tags); err != nil {
		return r.fail(err)
	}
	if err := r.build(tags); err != nil {
		return r.fail(err)
	}
	for i, e := range pl.ends {
		if e.kind != kindTap {
			continue
		}
		cc := pl.cc.Clone()
		if cc == nil {
			cc = &networkservice.ConnectionContext{}
		}
		cc.MTU = uint32(pl.mtu)
		if err := d.o.configure(ctx, logger, nss[i], e.ifName, e.side, cc); err != nil {
			return r.fail(fmt.Errorf("vppxc: connection %s: %w", p.ID, err))
		}
	}
	d.store(p.ID, &connState{ifs: r.cur, xc: r.xc})
	entry := logger.WithFields(logrus.Fields{"created": r.created, "adopted": r.adopted, "removed": r.removed,
		"mtu": pl.mtu, "ethernet": pl.ethernet, "duration": time.Since(start)})
	if r.created+r.adopted+r.removed > 0 {
		entry.Info("vppxc: programmed")
	} else {
		entry.Debug("vppxc: refreshed, nothing to change")
	}
	return nil
}

// run is one Program call.
type run struct {
	d    *Dataplane
	ctx  context.Context
	log  logrus.FieldLogger
	pl   plan
	key  string
	prev *connState

	cur   [2]*ifState
	fresh [2]bool // created by this run
	xc    []xcOp
	// undo reverts, in reverse order, what this run created.
	undo []func(context.Context) error

	created, adopted, removed int
}

// reuse finds what VPP already has for the connection: the interfaces of
// the previous Program if they are still there, or (first Program of this
// run, e.g. after a restart) interfaces tagged for it. What exists but no
// longer matches the plan is removed.
func (r *run) reuse(tags [2]string) error {
	d := r.d
	if r.prev == nil {
		if !d.suspect(r.key) {
			return nil
		}
		found, err := d.findTagged(r.ctx, r.log, connPrefix(d.owner, r.key))
		if err != nil {
			return err
		}
		for i, e := range r.pl.ends {
			j := slices.IndexFunc(found, func(t tagged) bool { return t.raw == tags[i] })
			if j < 0 || e.kind == kindWireguard {
				// WireGuard keys do not survive a restart, so a tunnel
				// of an earlier run never matches a plan of this one.
				continue
			}
			s := &ifState{end: e, tag: tags[i], idx: found[j].idx}
			found = slices.Delete(found, j, j+1)
			if e.kind == kindVxlan {
				s.vxlan = vxlanRequest(e, 0)
			}
			r.cur[i] = s
			r.adopted++
			r.log.WithFields(logrus.Fields{"sw_if_index": s.idx, "tag": s.tag}).Info("vppxc: adopted an interface of an earlier run")
		}
		for _, t := range found {
			// This connection's, made for other parameters.
			if err := d.removeTagged(r.ctx, r.log, t); err != nil {
				return err
			}
			r.removed++
		}
		return nil
	}

	prev := r.prev
	gone := make(map[interface_types.InterfaceIndex]bool)
	for i, s := range prev.ifs {
		if s == nil {
			continue
		}
		ok, err := d.present(r.ctx, r.log, s)
		if err != nil {
			return err
		}
		if !ok {
			r.log.WithFields(logrus.Fields{"sw_if_index": s.idx, "tag": s.tag}).Warn("vppxc: interface is gone from VPP (VPP restarted?); recreating it")
			gone[s.idx] = true
			prev.ifs[i] = nil
		}
	}
	stale := make(map[interface_types.InterfaceIndex]bool)
	for i, s := range prev.ifs {
		if s != nil && s.tag != tags[i] {
			stale[s.idx] = true
		}
	}
	if len(stale)+len(gone) > 0 {
		// Undo the cross-connect halves that touch what is stale or gone,
		// then delete what is stale.
		var keep []xcOp
		for j := len(prev.xc) - 1; j >= 0; j-- {
			op := prev.xc[j]
			switch {
			case gone[op.rx]:
			case stale[op.rx] || stale[op.tx] || gone[op.tx]:
				if err := d.undoXC(r.ctx, r.log, op); err != nil {
					return err
				}
			default:
				keep = append(keep, op)
			}
		}
		slices.Reverse(keep)
		prev.xc = keep
		for i := len(prev.ifs) - 1; i >= 0; i-- {
			if s := prev.ifs[i]; s != nil && stale[s.idx] {
				if err := d.destroy(r.ctx, r.log, s); err != nil {
					return err
				}
				prev.ifs[i] = nil
				r.removed++
			}
		}
	}
	r.cur = prev.ifs
	return nil
}

// build creates the missing interfaces, brings the others up to date and
// cross-connects them.
func (r *run) build(tags [2]string) error {
	d, pl := r.d, r.pl
	for i, e := range pl.ends {
		s := r.cur[i]
		if s == nil {
			var err error
			if s, err = d.create(r.ctx, r.log, e, tags[i], pl.mtu); err != nil {
				return err
			}
			r.cur[i], r.fresh[i] = s, true
			r.created++
			r.undo = append(r.undo, func(ctx context.Context) error { return d.destroy(ctx, r.log, s) })
			continue
		}
		if err := d.update(r.ctx, r.log, s, e, pl.mtu, r.prev == nil); err != nil {
			return err
		}
	}

	ops := pl.xconnect(r.cur[0].idx, r.cur[1].idx)
	if r.prev != nil && slices.Equal(r.prev.xc, ops) && !r.fresh[0] && !r.fresh[1] {
		r.xc = ops
		return nil
	}
	for _, op := range ops {
		if err := d.applyXC(r.ctx, r.log, op); err != nil {
			return err
		}
		if r.isFresh(op.rx) {
			r.undo = append(r.undo, func(ctx context.Context) error { return d.undoXC(ctx, r.log, op) })
		}
	}
	r.xc = ops
	return nil
}

func (r *run) isFresh(idx interface_types.InterfaceIndex) bool {
	for i, s := range r.cur {
		if s != nil && s.idx == idx && r.fresh[i] {
			return true
		}
	}
	return false
}

// fail reverts what this run created, keeps track of what survives, and
// returns err with any error of the revert.
func (r *run) fail(err error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), xconnect.UnprogramTimeout)
	defer cancel()
	for i := len(r.undo) - 1; i >= 0; i-- {
		if uerr := r.undo[i](ctx); uerr != nil {
			err = errors.Join(err, fmt.Errorf("vppxc: revert: %w", uerr))
		}
	}
	st := &connState{}
	alive := make(map[interface_types.InterfaceIndex]bool)
	for i, s := range r.cur {
		if s != nil && !r.fresh[i] {
			st.ifs[i] = s
			alive[s.idx] = true
		}
	}
	if r.prev != nil {
		for _, op := range r.prev.xc {
			if alive[op.rx] && alive[op.tx] {
				st.xc = append(st.xc, op)
			}
		}
	}
	if errors.Is(err, errOutcomeUnknown) {
		// A message may have been carried out without its reply arriving
		// (an interface created, its index unknown): look next time.
		r.d.markSuspect(r.key)
	}
	if len(alive) > 0 {
		// Interfaces kept or adopted stay (a failed refresh does not tear
		// down a working connection); Unprogram removes them.
		r.d.store(r.pl.id, st)
	}
	return err
}

// create makes the interface of e, tags it, sizes it and brings it up. It
// either succeeds or leaves nothing behind.
func (d *Dataplane) create(ctx context.Context, log logrus.FieldLogger, e end, t string, mtu int) (*ifState, error) {
	s := &ifState{end: e, tag: t, mtu: mtu}
	var err error
	switch e.kind {
	case kindTap:
		s.idx, err = d.vpp.createTap(ctx, log, e, t, mtu)
	case kindVxlan:
		node := "vxlan4-input"
		if e.local.Is6() {
			node = "vxlan6-input"
		}
		var next uint32
		if next, err = d.vpp.addNodeNext(ctx, log, node, "ethernet-input"); err != nil {
			return nil, err
		}
		s.vxlan = vxlanRequest(e, next)
		s.idx, err = d.vpp.vxlanTunnel(ctx, log, true, s.vxlan)
	case kindWireguard:
		s.idx, err = d.vpp.wgCreate(ctx, log, e)
	}
	if err != nil {
		return nil, err
	}
	steps := []func() error{func() error { return d.vpp.setTag(ctx, log, s.idx, t) }}
	switch e.kind {
	case kindTap:
		steps = append(steps, func() error { return d.vpp.setRxModeAdaptive(ctx, log, s.idx) })
	case kindWireguard:
		steps = append(steps, func() error { return d.setPeer(ctx, log, s, e) })
	}
	steps = append(steps,
		func() error { return d.vpp.setMTU(ctx, log, s.idx, mtu) },
		func() error { return d.vpp.setUp(ctx, log, s.idx) })
	for _, step := range steps {
		if err := step(); err != nil {
			cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), xconnect.UnprogramTimeout)
			defer cancel()
			return nil, errors.Join(err, d.destroy(cleanup, log, s))
		}
	}
	log.WithFields(logrus.Fields{"sw_if_index": s.idx, "kind": e.kind, "tag": t}).Debug("vppxc: created interface")
	return s, nil
}

// update brings a kept or adopted interface up to date: MTU, WireGuard peer
// and, for an adopted one whose state is unknown, rx mode and admin state.
func (d *Dataplane) update(ctx context.Context, log logrus.FieldLogger, s *ifState, e end, mtu int, adopted bool) error {
	if adopted && e.kind == kindTap {
		if err := d.vpp.setRxModeAdaptive(ctx, log, s.idx); err != nil {
			return err
		}
	}
	if adopted || s.mtu != mtu {
		if err := d.vpp.setMTU(ctx, log, s.idx, mtu); err != nil {
			return err
		}
		s.mtu = mtu
	}
	if adopted {
		if err := d.vpp.setUp(ctx, log, s.idx); err != nil {
			return err
		}
	}
	if e.kind == kindWireguard {
		if err := d.setPeer(ctx, log, s, e); err != nil {
			return err
		}
	}
	s.end = e
	return nil
}

// setPeer makes e's peer the WireGuard interface's only peer, replacing an
// older one (the other forwarder restarted with new keys, or moved).
func (d *Dataplane) setPeer(ctx context.Context, log logrus.FieldLogger, s *ifState, e end) error {
	want := peer{key: e.peerKey, endpoint: netip.AddrPortFrom(e.remote, e.remotePort)}
	if s.peer != nil && *s.peer == want {
		return nil
	}
	if s.peer != nil {
		if err := d.vpp.wgPeerRemove(ctx, log, s.peerIndex); err != nil {
			return err
		}
		s.peer = nil
	}
	idx, err := d.vpp.wgPeerAdd(ctx, log, s.idx, want, d.o.keepalive)
	if err != nil {
		return err
	}
	s.peer, s.peerIndex = &want, idx
	return nil
}

// destroy deletes an interface this run knows everything about.
func (d *Dataplane) destroy(ctx context.Context, log logrus.FieldLogger, s *ifState) error {
	switch s.end.kind {
	case kindTap:
		return d.vpp.deleteTap(ctx, log, s.idx)
	case kindVxlan:
		_, err := d.vpp.vxlanTunnel(ctx, log, false, s.vxlan)
		return err
	default:
		if s.peer != nil {
			if err := d.vpp.wgPeerRemove(ctx, log, s.peerIndex); err != nil {
				return err
			}
			s.peer = nil
		}
		return d.vpp.wgDelete(ctx, log, s.idx)
	}
}

// vxlanFromDetails is the request that deletes the tunnel of det.
func vxlanFromDetails(det *vxlan.VxlanTunnelV2Details) *vxlan.VxlanAddDelTunnelV3 {
	return &vxlan.VxlanAddDelTunnelV3{
		Instance:       det.Instance,
		SrcAddress:     det.SrcAddress,
		DstAddress:     det.DstAddress,
		SrcPort:        det.SrcPort,
		DstPort:        det.DstPort,
		McastSwIfIndex: det.McastSwIfIndex,
		EncapVrfID:     det.EncapVrfID,
		DecapNextIndex: det.DecapNextIndex,
		Vni:            det.Vni,
	}
}

func vxlanRequest(e end, decapNext uint32) *vxlan.VxlanAddDelTunnelV3 {
	return &vxlan.VxlanAddDelTunnelV3{
		IsAdd:          true,
		Instance:       noIndex,
		SrcAddress:     ip_types.NewAddress(e.local.AsSlice()),
		DstAddress:     ip_types.NewAddress(e.remote.AsSlice()),
		SrcPort:        e.localPort,
		DstPort:        e.remotePort,
		McastSwIfIndex: interface_types.InterfaceIndex(noIndex),
		DecapNextIndex: decapNext,
		Vni:            e.vni,
	}
}

// xconnect returns the cross-connect of the upstream interface a and the
// downstream one b: both directions of an L2 cross-connect, or an l3xc per
// direction and family whose next hop is the far side's first address of
// that family (the endpoint's going downstream, the client's going up).
func (pl plan) xconnect(a, b interface_types.InterfaceIndex) []xcOp {
	if pl.ethernet {
		return []xcOp{{l2: true, rx: a, tx: b}, {l2: true, rx: b, tx: a}}
	}
	first := func(addrs []netip.Prefix, ip6 bool) netip.Addr {
		for _, p := range addrs {
			if p.Addr().Is6() == ip6 {
				return p.Addr()
			}
		}
		return netip.Addr{}
	}
	return []xcOp{
		{rx: a, tx: b, nextHop: first(pl.dstAddrs, false)},
		{rx: a, tx: b, ip6: true, nextHop: first(pl.dstAddrs, true)},
		{rx: b, tx: a, nextHop: first(pl.srcAddrs, false)},
		{rx: b, tx: a, ip6: true, nextHop: first(pl.srcAddrs, true)},
	}
}

func (d *Dataplane) applyXC(ctx context.Context, log logrus.FieldLogger, op xcOp) error {
	if op.l2 {
		return d.vpp.l2xc(ctx, log, op.rx, op.tx, true)
	}
	return d.vpp.l3xcUpdate(ctx, log, op)
}

func (d *Dataplane) undoXC(ctx context.Context, log logrus.FieldLogger, op xcOp) error {
	if op.l2 {
		return d.vpp.l2xc(ctx, log, op.rx, op.tx, false)
	}
	return d.vpp.l3xcDel(ctx, log, op.rx, op.ip6)
}

// present reports whether s is still in VPP: its index exists and carries
// its tag (after a VPP restart the index may belong to something else).
func (d *Dataplane) present(ctx context.Context, log logrus.FieldLogger, s *ifState) (bool, error) {
	dets, err := d.vpp.dump(ctx, log, s.idx)
	if err != nil {
		return false, err
	}
	for _, det := range dets {
		if det.SwIfIndex == s.idx && det.Tag == s.tag {
			return true, nil
		}
	}
	return false, nil
}

// Unprogram removes the cross-connect and the interfaces of p's connection,
// in the reverse order of their creation. Interfaces already gone are not
// an error. Without a record of the connection (it was not programmed by
// this run), it removes every interface tagged for it.
func (d *Dataplane) Unprogram(ctx context.Context, p *xconnect.Pair) error {
	if p == nil || p.ID == "" {
		return errors.New("vppxc: unprogram: pair without a connection id")
	}
	start := time.Now()
	d.pruneMu.RLock()
	defer d.pruneMu.RUnlock()
	logger := d.logger.WithField("conn", p.ID)
	st := d.take(p.ID)
	var errs []error
	removed := 0
	if st == nil {
		found, err := d.findTagged(ctx, logger, connPrefix(d.owner, connKey(d.owner, p.ID)))
		if err != nil {
			return fmt.Errorf("vppxc: unprogram connection %s: %w", p.ID, err)
		}
		for _, t := range found {
			if err := d.removeTagged(ctx, logger, t); err != nil {
				errs = append(errs, err)
				continue
			}
			removed++
		}
	} else {
		alive := make(map[interface_types.InterfaceIndex]bool)
		for _, s := range st.ifs {
			if s == nil {
				continue
			}
			ok, err := d.present(ctx, logger, s)
			if err != nil {
				d.store(p.ID, st)
				return fmt.Errorf("vppxc: unprogram connection %s: %w", p.ID, err)
			}
			alive[s.idx] = ok
		}
		for j := len(st.xc) - 1; j >= 0; j-- {
			if op := st.xc[j]; alive[op.rx] {
				if err := d.undoXC(ctx, logger, op); err != nil {
					errs = append(errs, err)
				}
			}
		}
		for i := len(st.ifs) - 1; i >= 0; i-- {
			if s := st.ifs[i]; s != nil && alive[s.idx] {
				if err := d.destroy(ctx, logger, s); err != nil {
					errs = append(errs, err)
					continue
				}
				removed++
			}
		}
	}
	logger.WithFields(logrus.Fields{"removed": removed, "duration": time.Since(start)}).Debug("vppxc: unprogrammed")
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("vppxc: unprogram connection %s: %w", p.ID, err)
	}
	return nil
}

func (d *Dataplane) take(id string) *connState {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.conns[id]
	delete(d.conns, id)
	return st
}

func (d *Dataplane) store(id string, st *connState) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.conns[id] = st
}

// Connections returns the ids of the connections programmed by this run and
// not unprogrammed, sorted; Prune keeps their interfaces.
func (d *Dataplane) Connections() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]string, 0, len(d.conns))
	for id := range d.conns {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

var _ xconnect.Dataplane = (*Dataplane)(nil)
