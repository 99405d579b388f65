// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package kernelxc

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	wgmech "github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/wireguard"
	"github.com/nsmesh/nsmesh/sdk/dataplane/kernel"
	wgdp "github.com/nsmesh/nsmesh/sdk/dataplane/wireguard"
)

// DefaultWireGuardKeepalive is the persistent keepalive of WireGuard tunnels
// when WithWireGuardKeepalive is not given: WireGuard's customary value for
// keeping stateful middleboxes open.
const DefaultWireGuardKeepalive = 25 * time.Second

// WireGuardKeys gives the data plane the private key behind a public key
// that this forwarder published while negotiating (the negotiation's
// Allocator implements it). Private keys never appear in mechanisms.
type WireGuardKeys interface {
	PrivateKey(public wgmech.Key) (wgmech.Key, bool)
}

// WithWireGuard enables the KERNEL↔WIREGUARD pairs, with the forwarder's
// negotiated keys.
func WithWireGuard(keys WireGuardKeys) Option { return func(o *options) { o.wgKeys = keys } }

// WithWireGuardKeepalive sets the persistent keepalive of the WireGuard
// tunnels this forwarder initiates, on the client's node (default
// DefaultWireGuardKeepalive); 0 disables it. The endpoint's side never sends
// keepalives of its own.
func WithWireGuardKeepalive(d time.Duration) Option { return func(o *options) { o.wgKeepalive = d } }

// programWireguard creates, updates or replaces the connection's tunnel and
// configures its interface.
func (d *Dataplane) programWireguard(ctx context.Context, logger logrus.FieldLogger, pl plan, ns *kernel.NetNS) error {
	id := pl.mark.ConnID
	if d.o.wgKeys == nil {
		return fmt.Errorf("kernelxc: connection %s: %w: WireGuard is not enabled in this data plane", id, ErrUnsupported)
	}
	private, ok := d.o.wgKeys.PrivateKey(pl.wg.public)
	if !ok {
		return fmt.Errorf("kernelxc: connection %s: no private key for the public key %s this side published: it was negotiated by another run of the forwarder; the connection must be requested anew",
			id, pl.wg.public)
	}
	mtu, err := d.wireguardMTU(pl)
	if err != nil {
		return err
	}
	// Only the client's side greets: it knows the endpoint and keeps the
	// session alive. The endpoint's side learns the client's address from
	// that first handshake and never initiates, because two ends that
	// initiate at the same moment each drop the other's response and wait
	// for WireGuard's 5 s retry. It is programmed first (xconnect programs
	// on the way back), so the greeting finds it listening.
	peer, keepalive := pl.wg.peer, d.o.wgKeepalive
	if pl.ends[0].side != kernel.SideSrc {
		peer.Endpoint, keepalive = netip.AddrPort{}, 0
	}
	cfg := wgdp.Config{
		Mark:       pl.mark,
		Host:       d.o.host,
		End:        kernel.Endpoint{NS: ns, Name: pl.ends[0].name},
		PrivateKey: private,
		ListenPort: pl.wg.port,
		Peer:       peer,
		MTU:        mtu,
		Keepalive:  keepalive,
	}
	created := false
	t := d.tunnel(id)
	if t != nil {
		err := t.Update(ctx, logger, cfg)
		switch {
		case errors.Is(err, wgdp.ErrMoved), errors.Is(err, wgdp.ErrClosed):
			// Another interface, or the old one died with its namespace.
			d.closeTunnel(id)
			t = nil
		case err != nil:
			return fmt.Errorf("kernelxc: connection %s: %w", id, err)
		}
	}
	if t == nil {
		if t, err = wgdp.New(ctx, logger, cfg); err != nil {
			return fmt.Errorf("kernelxc: connection %s: %w", id, err)
		}
		created = true
		d.mu.Lock()
		d.tunnels[id] = t
		d.mu.Unlock()
	}
	cc := pl.cc
	if cc == nil {
		cc = &networkservice.ConnectionContext{}
	}
	if cc.GetMTU() != uint32(mtu) {
		cc = cc.Clone()
		cc.MTU = uint32(mtu)
	}
	if err := kernel.Configure(ctx, logger, ns, pl.ends[0].name, pl.ends[0].side, cc); err != nil {
		if created {
			d.closeTunnel(id)
		}
		return err
	}
	return nil
}

// wireguardMTU is the underlay's MTU minus WireGuard's overhead, lowered to
// the context's and the mechanism's MTU when those are set and smaller.
func (d *Dataplane) wireguardMTU(pl plan) (int, error) {
	underlay, err := kernel.UnderlayMTU(d.o.host, pl.remote)
	if err != nil {
		return 0, fmt.Errorf("kernelxc: connection %s: %w", pl.mark.ConnID, err)
	}
	remote, _ := netip.AddrFromSlice(pl.remote)
	mtu := wgdp.MTUFor(underlay, remote)
	for _, c := range []int{int(pl.cc.GetMTU()), pl.mtuCap} {
		if c > 0 && c < mtu {
			mtu = c
		}
	}
	if mtu < wgdp.MinMTU {
		return 0, fmt.Errorf("kernelxc: connection %s: WireGuard MTU %d is below the IPv4 minimum (underlay %d)", pl.mark.ConnID, mtu, underlay)
	}
	return min(mtu, wgdp.MaxMTU), nil
}

func (d *Dataplane) tunnel(id string) *wgdp.Tunnel {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.tunnels[id]
}

// closeTunnel stops the connection's tunnel, if it has one; its interface
// goes with it.
func (d *Dataplane) closeTunnel(id string) {
	d.mu.Lock()
	t := d.tunnels[id]
	delete(d.tunnels, id)
	d.mu.Unlock()
	if t != nil {
		t.Close()
	}
}
