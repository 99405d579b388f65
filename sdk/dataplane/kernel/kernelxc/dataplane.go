// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package kernelxc

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/dataplane/kernel"
	wgdp "github.com/nsmesh/nsmesh/sdk/dataplane/wireguard"
	"github.com/nsmesh/nsmesh/sdk/networkservice/xconnect"
	"github.com/nsmesh/nsmesh/sdk/tools/log"
)

// linkRef is one link a connection has: where it is and what it is called.
type linkRef struct {
	path string
	id   kernel.NSID
	name string
}

// connState is what the last successful Program of a connection made.
type connState struct {
	kind  kind
	links []linkRef
}

// Dataplane programs connections with veth pairs, vxlan devices and
// WireGuard tunnels.
type Dataplane struct {
	owner  string
	o      options
	logger logrus.FieldLogger

	// pruneMu keeps Prune from running while a Program or Unprogram is in
	// flight: Prune decides from the set of programmed connections, which
	// changes only under pruneMu.RLock.
	pruneMu sync.RWMutex

	mu    sync.Mutex
	conns map[string]*connState
	// tunnels are the running WireGuard tunnels by connection id.
	tunnels map[string]*wgdp.Tunnel
	// removals are the closed connections whose links are being deleted
	// in the background.
	removals map[string]*removal
	// closed is set by Close; no background work starts after it.
	closed bool
	// unhook detaches life from the contexts given to Start.
	unhook []func() bool

	pins *pins

	// life ends with Close or with the context of Start, and with it the
	// background work (bg): removal retries, the prune after the grace.
	life context.Context
	stop context.CancelFunc
	bg   sync.WaitGroup
}

// New returns the data plane of the forwarder named owner. owner is written
// into every link's mark and must not contain ':'.
func New(owner string, opts ...Option) (*Dataplane, error) {
	o := options{logger: log.Discard(), grace: DefaultAdoptionGrace, scan: kernel.ScanNetNS, deleteByMark: kernel.DeleteByMark,
		wgKeepalive: DefaultWireGuardKeepalive}
	for _, opt := range opts {
		opt(&o)
	}
	if err := (kernel.Mark{Owner: owner, ConnID: "x"}).Validate(); err != nil {
		return nil, fmt.Errorf("kernelxc: owner %q: %w", owner, err)
	}
	if o.grace < 0 {
		return nil, fmt.Errorf("kernelxc: negative adoption grace %s", o.grace)
	}
	if o.wgKeepalive < 0 {
		return nil, fmt.Errorf("kernelxc: negative WireGuard keepalive %s", o.wgKeepalive)
	}
	if o.stateDir != "" && !filepath.IsAbs(o.stateDir) {
		return nil, fmt.Errorf("kernelxc: state dir %q is not an absolute path", o.stateDir)
	}
	life, stop := context.WithCancel(context.Background())
	return &Dataplane{
		owner:    owner,
		o:        o,
		logger:   o.logger.WithField("element", "kernelxc"),
		conns:    make(map[string]*connState),
		tunnels:  make(map[string]*wgdp.Tunnel),
		removals: make(map[string]*removal),
		pins:     newPins(o.stateDir, owner),
		life:     life,
		stop:     stop,
	}, nil
}

// Owner returns the owner written into link marks.
func (d *Dataplane) Owner() string { return d.owner }

// Program creates or adopts the links of p and configures them.
func (d *Dataplane) Program(ctx context.Context, p *xconnect.Pair) error {
	start := time.Now()
	pl, err := makePlan(d.owner, p)
	if err != nil {
		return err
	}
	// The connection is wanted again: a removal still retrying after a
	// failed Unprogram must not delete what this call adopts or creates.
	// (Before pruneMu: the retry takes it too.)
	d.cancelRemoval(p.ID)
	d.pruneMu.RLock()
	defer d.pruneMu.RUnlock()

	nss := make([]*kernel.NetNS, len(pl.ends))
	defer func() {
		for _, ns := range nss {
			if ns != nil {
				_ = ns.Close()
			}
		}
	}()
	refs := make([]linkRef, len(pl.ends))
	for i, e := range pl.ends {
		ns, err := kernel.OpenNetNS(e.path)
		if err != nil {
			return fmt.Errorf("kernelxc: connection %s: %s side: %w", p.ID, e.side, err)
		}
		nss[i] = ns
		refs[i] = linkRef{path: e.path, id: ns.ID(), name: e.name}
	}
	logger := d.logger.WithFields(logrus.Fields{"conn": p.ID, "kind": pl.kind.String()})
	// Pinned before anything is created, so that no link of this
	// connection ever lives in a namespace a restarted run cannot reopen.
	if err := d.pins.hold(p.ID, nss); err != nil {
		return fmt.Errorf("kernelxc: connection %s: %w", p.ID, err)
	}

	if prev := d.state(p.ID); prev != nil && !sameLinks(prev, pl.kind, refs) {
		// The mechanisms now name other interfaces: the old ones would be
		// orphans (and could hold the VNI or the port).
		d.closeTunnel(p.ID)
		d.deleteLinks(ctx, logger, pl.mark, prev.links)
	}

	switch pl.kind {
	case kindVeth:
		err = d.programVeth(ctx, logger, pl, nss)
	case kindVxlan:
		err = d.programVxlan(ctx, logger, pl, nss[0])
	case kindWireguard:
		err = d.programWireguard(ctx, logger, pl, nss[0])
	}
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.conns[p.ID] = &connState{kind: pl.kind, links: refs}
	d.mu.Unlock()
	// A layout change leaves namespaces this connection no longer uses.
	// (On failure the pins stay: Unprogram releases them.)
	d.pins.keepOnly(p.ID, refIDs(refs), logger)
	logger.WithField("duration", time.Since(start)).Debug("kernelxc: programmed")
	return nil
}

func (d *Dataplane) programVeth(ctx context.Context, logger logrus.FieldLogger, pl plan, nss []*kernel.NetNS) error {
	v := kernel.Veth{
		Mark: pl.mark,
		A:    kernel.Endpoint{NS: nss[0], Name: pl.ends[0].name},
		B:    kernel.Endpoint{NS: nss[1], Name: pl.ends[1].name},
		MTU:  int(pl.cc.GetMTU()),
	}
	res, err := v.Ensure(ctx, logger)
	if err != nil {
		return err
	}
	for i, e := range pl.ends {
		if err = kernel.Configure(ctx, logger, nss[i], e.name, e.side, pl.cc); err != nil {
			break
		}
	}
	if err != nil && res.Created {
		err = errors.Join(err, v.Delete(context.WithoutCancel(ctx), logger))
	}
	return err
}

func (d *Dataplane) programVxlan(ctx context.Context, logger logrus.FieldLogger, pl plan, ns *kernel.NetNS) error {
	mtu, err := d.vxlanMTU(pl)
	if err != nil {
		return err
	}
	x := kernel.Vxlan{
		Mark:   pl.mark,
		Host:   d.o.host,
		End:    kernel.Endpoint{NS: ns, Name: pl.ends[0].name},
		VNI:    pl.vni,
		Local:  pl.local,
		Remote: pl.remote,
		Port:   pl.port,
		MTU:    mtu,
	}
	res, err := x.Ensure(ctx, logger)
	if err != nil {
		return err
	}
	cc := pl.cc
	if cc == nil {
		cc = &networkservice.ConnectionContext{}
	}
	if cc.GetMTU() != uint32(mtu) {
		cc = cc.Clone()
		cc.MTU = uint32(mtu)
	}
	if err = kernel.Configure(ctx, logger, ns, pl.ends[0].name, pl.ends[0].side, cc); err != nil && res.Created {
		err = errors.Join(err, x.Delete(context.WithoutCancel(ctx), logger))
	}
	return err
}

// vxlanMTU is the underlay's MTU minus the encapsulation, lowered to the
// context's and the mechanism's MTU when those are set and smaller.
func (d *Dataplane) vxlanMTU(pl plan) (int, error) {
	underlay, err := kernel.UnderlayMTU(d.o.host, pl.remote)
	if err != nil {
		return 0, fmt.Errorf("kernelxc: connection %s: %w", pl.mark.ConnID, err)
	}
	mtu := kernel.VxlanMTU(underlay, pl.remote)
	for _, c := range []int{int(pl.cc.GetMTU()), pl.mtuCap} {
		if c > 0 && c < mtu {
			mtu = c
		}
	}
	if mtu < 68 {
		return 0, fmt.Errorf("kernelxc: connection %s: vxlan MTU %d is below the IPv4 minimum (underlay %d)", pl.mark.ConnID, mtu, underlay)
	}
	return mtu, nil
}

// Unprogram deletes every link of p's connection. Missing links and
// namespaces that are gone are not errors. When some link cannot be
// deleted, the error says so and the deletion is retried in the background
// (see PendingRemovals) until it succeeds, the connection is programmed
// again, or the data plane stops.
func (d *Dataplane) Unprogram(ctx context.Context, p *xconnect.Pair) error {
	if p == nil || p.ID == "" {
		return errors.New("kernelxc: unprogram: pair without a connection id")
	}
	start := time.Now()
	d.cancelRemoval(p.ID) // this call takes over
	d.pruneMu.RLock()
	defer d.pruneMu.RUnlock()
	d.mu.Lock()
	st := d.conns[p.ID]
	delete(d.conns, p.ID)
	d.mu.Unlock()

	var refs []linkRef
	if st != nil {
		refs = slices.Clone(st.links)
	} else if pl, err := makePlan(d.owner, p); err == nil {
		// Not programmed by this run (e.g. after a restart): the pair
		// still says where the links are.
		for _, e := range pl.ends {
			refs = append(refs, linkRef{path: e.path, name: e.name})
		}
	}
	logger := d.logger.WithField("conn", p.ID)
	d.closeTunnel(p.ID)
	err := d.deleteLinks(ctx, logger, kernel.Mark{Owner: d.owner, ConnID: p.ID}, refs)
	if err == nil {
		d.pins.keepOnly(p.ID, nil, logger)
		logger.WithField("duration", time.Since(start)).Debug("kernelxc: unprogrammed")
		return nil
	}
	// The namespaces stay pinned: the retries, or the next run, need them.
	if d.keepRemoving(p.ID, refs) {
		logger.WithError(err).Info("kernelxc: links of the connection remain; their removal is retried in the background")
		return fmt.Errorf("%w (retried in the background)", err)
	}
	logger.WithError(err).Warn("kernelxc: links of the connection remain and the data plane stops; the next run prunes them")
	return err
}

// deleteLinks deletes the links carrying m in the namespaces of refs. A
// namespace whose file no longer opens (or opens as another namespace, the
// descriptor number having been reused) is looked for by scanning and among
// the pinned ones, since a namespace can outlive one reference to it. The
// identity of a namespace found through a ref without one is written into
// refs, so that a retry can still find it after its file has gone.
func (d *Dataplane) deleteLinks(ctx context.Context, logger logrus.FieldLogger, m kernel.Mark, refs []linkRef) error {
	ctx = context.WithoutCancel(ctx)
	done := make(map[kernel.NSID]bool)
	lost := make(map[kernel.NSID]bool)
	var errs []error
	for i, r := range refs {
		ns, err := kernel.OpenNetNS(r.path)
		if err != nil || (r.id != kernel.NSID{} && ns.ID() != r.id) {
			if ns != nil {
				_ = ns.Close()
			}
			if (r.id != kernel.NSID{}) {
				lost[r.id] = true
			}
			continue
		}
		refs[i].id = ns.ID()
		if !done[ns.ID()] {
			done[ns.ID()] = true
			if _, err := d.o.deleteByMark(ctx, logger, ns, m); err != nil {
				errs = append(errs, err)
			}
		}
		_ = ns.Close()
	}
	for id := range done {
		delete(lost, id)
	}
	if len(lost) > 0 {
		scanned, err := d.namespaces()
		if err != nil {
			errs = append(errs, err)
		}
		for _, ns := range scanned {
			if lost[ns.ID()] {
				if _, err := d.o.deleteByMark(ctx, logger, ns, m); err != nil {
					errs = append(errs, err)
				}
			}
			_ = ns.Close()
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("kernelxc: delete links of connection %s: %w", m.ConnID, err)
	}
	return nil
}

// namespaces returns the namespaces the scan finds and the pinned ones,
// each once. The caller must Close them.
func (d *Dataplane) namespaces() ([]*kernel.NetNS, error) {
	scanned, err := d.o.scan()
	if err != nil {
		return nil, err
	}
	pinned, err := d.pins.open(d.logger)
	if err != nil {
		for _, ns := range scanned {
			_ = ns.Close()
		}
		return nil, err
	}
	seen := make(map[kernel.NSID]bool, len(scanned))
	for _, ns := range scanned {
		seen[ns.ID()] = true
	}
	for _, ns := range pinned {
		if seen[ns.ID()] {
			_ = ns.Close()
			continue
		}
		seen[ns.ID()] = true
		scanned = append(scanned, ns)
	}
	return scanned, nil
}

func refIDs(refs []linkRef) []kernel.NSID {
	ids := make([]kernel.NSID, 0, len(refs))
	for _, r := range refs {
		ids = append(ids, r.id)
	}
	return ids
}

// Close stops the background work (removal retries give up, leaving their
// links and pins to the next run; the prune after the grace is not run) and
// every WireGuard tunnel, which removes their interfaces: they live in this
// process and cannot outlive it anyway. Veth pairs and vxlan devices stay
// for the next run to adopt. Program must not be called after Close.
func (d *Dataplane) Close() {
	d.mu.Lock()
	d.closed = true
	tunnels := d.tunnels
	d.tunnels = make(map[string]*wgdp.Tunnel)
	unhook := d.unhook
	d.unhook = nil
	d.mu.Unlock()
	d.stop()
	d.bg.Wait()
	for _, f := range unhook {
		f()
	}
	for _, t := range tunnels {
		t.Close()
	}
}

// goBackground runs f in the background unless the data plane is stopping.
func (d *Dataplane) goBackground(f func()) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.closed && d.life.Err() == nil {
		d.bg.Go(f)
	}
}

func (d *Dataplane) state(id string) *connState {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.conns[id]
}

func sameLinks(st *connState, k kind, refs []linkRef) bool {
	if st.kind != k || len(st.links) != len(refs) {
		return false
	}
	for i, r := range refs {
		if st.links[i].id != r.id || st.links[i].name != r.name {
			return false
		}
	}
	return true
}

// Connections returns the ids of the connections programmed by this run and
// not unprogrammed, sorted; Prune keeps their links.
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
