// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package kernelxc

import (
	"errors"
	"fmt"
	"net/netip"

	kernelmech "github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/kernel"
	wgmech "github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/wireguard"
	"github.com/nsmesh/nsmesh/sdk/dataplane/kernel"
	wgdp "github.com/nsmesh/nsmesh/sdk/dataplane/wireguard"
)

// wgPlan is this node's end of a WIREGUARD tunnel as the mechanism
// describes it.
type wgPlan struct {
	// public is the key this side published; its private key is looked up
	// in the WireGuardKeys.
	public wgmech.Key
	port   uint16
	peer   wgdp.Peer
}

// wireguard fills a kindWireguard plan: k is the workload's KERNEL
// mechanism, m the tunnel, side says which end of the tunnel this node is
// (SideSrc: the client's node).
func (pl *plan) wireguard(k *kernelmech.Mechanism, m *wgmech.Mechanism, side kernel.Side, connID, which string) error {
	pl.kind = kindWireguard
	e, err := kernelEnd(k, side, connID, which)
	if err != nil {
		return err
	}
	pl.ends = []end{e}
	if err := pl.wgTunnel(m, side); err != nil {
		return fmt.Errorf("WIREGUARD mechanism: %w", err)
	}
	return nil
}

func (pl *plan) wgTunnel(m *wgmech.Mechanism, side kernel.Side) error {
	src, okS := netip.AddrFromSlice(m.SrcIP())
	dst, okD := netip.AddrFromSlice(m.DstIP())
	if !okS || !okD {
		return fmt.Errorf("src_ip %q and dst_ip %q must both be set", m.SrcIP(), m.DstIP())
	}
	src, dst = src.Unmap(), dst.Unmap()
	if src.Is4() != dst.Is4() {
		return fmt.Errorf("src_ip %s and dst_ip %s are of different families", src, dst)
	}
	srcPort, err1 := m.SrcPort()
	dstPort, err2 := m.DstPort()
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	if srcPort == 0 || dstPort == 0 {
		return fmt.Errorf("src_port %d and dst_port %d must both be set", srcPort, dstPort)
	}
	srcKey, err1 := m.SrcPublicKey()
	dstKey, err2 := m.DstPublicKey()
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	mtu, err := m.MTU()
	if err != nil {
		return err
	}
	w := &wgPlan{public: srcKey, port: srcPort, peer: wgdp.Peer{PublicKey: dstKey, Endpoint: netip.AddrPortFrom(dst, dstPort)}}
	pl.local, pl.remote = src.AsSlice(), dst.AsSlice()
	if side == kernel.SideDst {
		w = &wgPlan{public: dstKey, port: dstPort, peer: wgdp.Peer{PublicKey: srcKey, Endpoint: netip.AddrPortFrom(src, srcPort)}}
		pl.local, pl.remote = dst.AsSlice(), src.AsSlice()
	}
	pl.wg, pl.mtuCap = w, int(mtu)
	return nil
}
