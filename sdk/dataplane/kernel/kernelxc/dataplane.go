// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package kernelxc

import (
	"context"
	"errors"
	"fmt"
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
}

// New returns the data plane of the forwarder named owner. owner is written
// into every link's mark and must not contain ':'.
func New(owner string, opts ...Option) (*Dataplane, error) {
	o := options{logger: log.Discard(), grace: DefaultAdoptionGrace, scan: kernel.ScanNetNS, wgKeepalive: DefaultWireGuardKeepalive}
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
	return &Dataplane{
		owner:   owner,
		o:       o,
		logger:  o.logger.WithField("element", "kernelxc"),
		conns:   make(map[string]*connState),
		tunnels: make(map[string]*wgdp.Tunnel),
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
// namespaces that are gone are not errors.
func (d *Dataplane) Unprogram(ctx context.Context, p *xconnect.Pair) error {
	if p == nil || p.ID == "" {
		return errors.New("kernelxc: unprogram: pair without a connection id")
	}
	start := time.Now()
	d.pruneMu.RLock()
	defer d.pruneMu.RUnlock()
	d.mu.Lock()
	st := d.conns[p.ID]
	delete(d.conns, p.ID)
	d.mu.Unlock()

	var refs []linkRef
	if st != nil {
		refs = st.links
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
	logger.WithField("duration", time.Since(start)).Debug("kernelxc: unprogrammed")
	return err
}

// deleteLinks deletes the links carrying m in the namespaces of refs. A
// namespace whose file no longer opens (or opens as another namespace, the
// descriptor number having been reused) is looked for by scanning, since a
// namespace can outlive one reference to it.
func (d *Dataplane) deleteLinks(ctx context.Context, logger logrus.FieldLogger, m kernel.Mark, refs []linkRef) error {
	ctx = context.WithoutCancel(ctx)
	done := make(map[kernel.NSID]bool)
	lost := make(map[kernel.NSID]bool)
	var errs []error
	for _, r := range refs {
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
		if !done[ns.ID()] {
			done[ns.ID()] = true
			if _, err := kernel.DeleteByMark(ctx, logger, ns, m); err != nil {
				errs = append(errs, err)
			}
		}
		_ = ns.Close()
	}
	for id := range done {
		delete(lost, id)
	}
	if len(lost) > 0 {
		scanned, err := d.o.scan()
		if err != nil {
			errs = append(errs, err)
		}
		for _, ns := range scanned {
			if lost[ns.ID()] {
				if _, err := kernel.DeleteByMark(ctx, logger, ns, m); err != nil {
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
