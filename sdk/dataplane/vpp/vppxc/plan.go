// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package vppxc

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/common"
	kernelmech "github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/kernel"
	vxlanmech "github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/vxlan"
	wgmech "github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/wireguard"
	"github.com/nsmesh/nsmesh/apis/networkservice/payload"
	"github.com/nsmesh/nsmesh/sdk/dataplane/kernel"
	"github.com/nsmesh/nsmesh/sdk/networkservice/xconnect"
)

// ErrUnsupported is wrapped by the error for a mechanism pair or payload
// this data plane cannot program.
var ErrUnsupported = errors.New("vppxc: unsupported connection")

const (
	// wireguardOverheadIPv4 is what WireGuard adds over an IPv4 underlay:
	// IPv4 20, UDP 8, WireGuard header 16, authentication tag 16.
	wireguardOverheadIPv4 = 60
	// wireguardOverheadIPv6 is the same with a 40-byte outer header.
	wireguardOverheadIPv6 = 80
	// minMTU is the IPv4 minimum.
	minMTU = 68
	// maxHostNamespace is what tap_create_v3's host_namespace holds
	// (string[64] with its NUL).
	maxHostNamespace = 63
)

// end is one VPP interface of a connection as the mechanisms describe it.
type end struct {
	role role
	kind kind

	// kindTap: the workload's namespace (the file path VPP opens), the
	// interface name there, the side of the connection context it gets,
	// and TUN (IP payload) or TAP (Ethernet) mode.
	nsPath string
	ifName string
	side   kernel.Side
	tun    bool

	// kindVxlan and kindWireguard: this node's and the peer's tunnel
	// addresses and ports.
	local, remote         netip.Addr
	localPort, remotePort uint16
	vni                   uint32
	// kindWireguard: this side's key pair and the peer's public key.
	private, public, peerKey wgmech.Key
}

// identity is what fixes an interface at creation: an interface is reused
// only for a plan of equal identity. nsID identifies a tap's namespace
// (the path VPP was given changes with every forwarder run). A WireGuard
// interface is fixed by its address, port and key; its peer is updated in
// place.
func (e end) identity(nsID kernel.NSID) string {
	switch e.kind {
	case kindTap:
		return fmt.Sprintf("tap|%s|%s|tun=%t", nsID, e.ifName, e.tun)
	case kindVxlan:
		return fmt.Sprintf("vxlan|%s|%s|%d|%d|%d", e.local, e.remote, e.vni, e.localPort, e.remotePort)
	default:
		return fmt.Sprintf("wireguard|%s|%d|%s", e.local, e.localPort, e.public)
	}
}

// plan is what a Pair asks for, computed without touching VPP.
type plan struct {
	id string
	// ethernet: TAP-mode taps and an L2 cross-connect; otherwise TUN-mode
	// taps and an L3 cross-connect.
	ethernet bool
	// ends: the upstream (client side) end, then the downstream one.
	ends [2]end
	cc   *networkservice.ConnectionContext
	mtu  int
	// srcAddrs and dstAddrs are the client's and the endpoint's addresses,
	// the next hops of the L3 cross-connect.
	srcAddrs, dstAddrs []netip.Prefix
}

func (d *Dataplane) makePlan(p *xconnect.Pair) (plan, error) {
	if p == nil || p.ID == "" {
		return plan{}, errors.New("vppxc: pair without a connection id")
	}
	wrap := func(err error) error { return fmt.Errorf("vppxc: connection %s: %w", p.ID, err) }
	pl := plan{id: p.ID, cc: p.Upstream.GetContext()}
	if pl.cc == nil {
		pl.cc = p.Downstream.GetContext()
	}
	up, down := p.Upstream.GetMechanism(), p.Downstream.GetMechanism()
	upK, downK := kernelmech.ToMechanism(up), kernelmech.ToMechanism(down)
	upX, downX := vxlanmech.ToMechanism(up), vxlanmech.ToMechanism(down)
	upW, downW := wgmech.ToMechanism(up), wgmech.ToMechanism(down)

	pay := p.Upstream.GetPayload()
	if pay == "" {
		pay = p.Downstream.GetPayload()
	}
	wg := upW != nil || downW != nil
	switch {
	case pay != "" && pay != payload.IP && pay != payload.Ethernet:
		return plan{}, wrap(fmt.Errorf("%w: payload %q", ErrUnsupported, pay))
	case upX != nil || downX != nil:
		// A VXLAN peer exchanges Ethernet frames whatever the payload (a
		// kernel forwarder's vxlan device does), so the taps are TAP and
		// ARP/NDP resolve across the tunnel.
		pl.ethernet = true
	case wg && pay == payload.Ethernet:
		return plan{}, wrap(fmt.Errorf("%w: WIREGUARD carries IP only, the payload is ETHERNET", ErrUnsupported))
	default:
		// Without a payload: IP over WireGuard, Ethernet otherwise.
		pl.ethernet = pay == payload.Ethernet || (pay == "" && !wg)
	}

	var err error
	switch {
	case upK != nil && downK != nil:
		if pl.ends[0], err = d.tapEnd(upK, roleUp, p.ID, !pl.ethernet); err != nil {
			return plan{}, wrap(err)
		}
		if pl.ends[1], err = d.tapEnd(downK, roleDown, p.ID, !pl.ethernet); err != nil {
			return plan{}, wrap(err)
		}
		if pl.ends[0].nsPath == pl.ends[1].nsPath && pl.ends[0].ifName == pl.ends[1].ifName {
			pl.ends[1].ifName = derivedName(p.ID, roleDown)
		}
	case upK != nil && downX != nil:
		// This node has the client: the tunnel goes from src (us) to dst.
		if pl.ends[0], err = d.tapEnd(upK, roleUp, p.ID, false); err != nil {
			return plan{}, wrap(err)
		}
		if pl.ends[1], err = d.vxlanEnd(downX, roleDown); err != nil {
			return plan{}, wrap(fmt.Errorf("downstream VXLAN: %w", err))
		}
	case upX != nil && downK != nil:
		// This node has the endpoint: the tunnel goes from dst (us) to src.
		if pl.ends[0], err = d.vxlanEnd(upX, roleUp); err != nil {
			return plan{}, wrap(fmt.Errorf("upstream VXLAN: %w", err))
		}
		if pl.ends[1], err = d.tapEnd(downK, roleDown, p.ID, false); err != nil {
			return plan{}, wrap(err)
		}
	case upK != nil && downW != nil:
		if pl.ends[0], err = d.tapEnd(upK, roleUp, p.ID, true); err != nil {
			return plan{}, wrap(err)
		}
		if pl.ends[1], err = d.wireguardEnd(downW, roleDown); err != nil {
			return plan{}, wrap(fmt.Errorf("downstream WIREGUARD: %w", err))
		}
	case upW != nil && downK != nil:
		if pl.ends[0], err = d.wireguardEnd(upW, roleUp); err != nil {
			return plan{}, wrap(fmt.Errorf("upstream WIREGUARD: %w", err))
		}
		if pl.ends[1], err = d.tapEnd(downK, roleDown, p.ID, true); err != nil {
			return plan{}, wrap(err)
		}
	default:
		return plan{}, wrap(fmt.Errorf("%w: upstream %s/%s, downstream %s/%s; supported: KERNEL-KERNEL, KERNEL-VXLAN, VXLAN-KERNEL, KERNEL-WIREGUARD, WIREGUARD-KERNEL",
			ErrUnsupported, up.GetCls(), up.GetType(), down.GetCls(), down.GetType()))
	}

	// The context is checked here, before VPP is touched, with the parser
	// that configures the workload side.
	src, err := kernel.ConfigFromContext(pl.cc, kernel.SideSrc)
	if err != nil {
		return plan{}, wrap(err)
	}
	dst, err := kernel.ConfigFromContext(pl.cc, kernel.SideDst)
	if err != nil {
		return plan{}, wrap(err)
	}
	pl.srcAddrs, pl.dstAddrs = src.Addrs, dst.Addrs
	if pl.mtu, err = d.mtu(pl, up, down); err != nil {
		return plan{}, wrap(err)
	}
	return pl, nil
}

// tapEnd reads the namespace and interface name of a KERNEL mechanism.
func (d *Dataplane) tapEnd(m *kernelmech.Mechanism, r role, connID string, tun bool) (end, error) {
	which := "upstream"
	side := kernel.SideSrc
	if r == roleDown {
		which, side = "downstream", kernel.SideDst
	}
	path, err := m.NetNSPath()
	if err != nil {
		return end{}, fmt.Errorf("%s KERNEL mechanism: %w", which, err)
	}
	if len(path) > maxHostNamespace {
		return end{}, fmt.Errorf("%s KERNEL mechanism: netns path %q is longer than the %d bytes VPP takes", which, path, maxHostNamespace)
	}
	name := m.GetInterfaceName()
	if name == "" {
		name = derivedName(connID, r)
	} else if err := kernel.ValidateIfName(name); err != nil {
		return end{}, fmt.Errorf("%s KERNEL mechanism: %w", which, err)
	}
	return end{role: r, kind: kindTap, nsPath: path, ifName: name, side: side, tun: tun}, nil
}

// derivedName names the interface of a mechanism that names none, the same
// for every refresh and restart of the connection.
func derivedName(connID string, r role) string {
	sum := sha256.Sum256([]byte(connID))
	return "nsm" + string(r) + hex.EncodeToString(sum[:])[:kernel.MaxIfNameLen-4]
}

// tunnelAddrs returns a tunnel's addresses from this node's point of view: the
// upstream end of a tunnel is on the endpoint's node (local = dst).
func tunnelAddrs(srcIP, dstIP []byte, r role) (local, remote netip.Addr, err error) {
	src, okS := netip.AddrFromSlice(srcIP)
	dst, okD := netip.AddrFromSlice(dstIP)
	if !okS || !okD {
		return netip.Addr{}, netip.Addr{}, fmt.Errorf("src_ip %q and dst_ip %q must both be set", ipString(srcIP), ipString(dstIP))
	}
	src, dst = src.Unmap(), dst.Unmap()
	if src.Is4() != dst.Is4() {
		return netip.Addr{}, netip.Addr{}, fmt.Errorf("src_ip %s and dst_ip %s are of different families", src, dst)
	}
	if r == roleUp {
		return dst, src, nil
	}
	return src, dst, nil
}

func ipString(b []byte) string {
	if a, ok := netip.AddrFromSlice(b); ok {
		return a.Unmap().String()
	}
	return ""
}

func (d *Dataplane) checkLocal(local netip.Addr) error {
	if d.o.tunnelIP == nil {
		return nil
	}
	mine, ok := netip.AddrFromSlice(d.o.tunnelIP)
	if ok && mine.Unmap() != local {
		return fmt.Errorf("the local tunnel address %s is not this forwarder's %s", local, mine.Unmap())
	}
	return nil
}

func (d *Dataplane) vxlanEnd(m *vxlanmech.Mechanism, r role) (end, error) {
	local, remote, err := tunnelAddrs(m.SrcIP(), m.DstIP(), r)
	if err != nil {
		return end{}, err
	}
	if err := d.checkLocal(local); err != nil {
		return end{}, err
	}
	vni, err := m.VNI()
	if err != nil {
		return end{}, err
	}
	if vni == 0 {
		return end{}, errors.New("no VNI: the endpoint-side forwarder must choose one")
	}
	src, err1 := m.SrcPort()
	dst, err2 := m.DstPort()
	if err := errors.Join(err1, err2); err != nil {
		return end{}, err
	}
	switch {
	case src == 0 && dst == 0:
		src, dst = d.o.vxlanPort, d.o.vxlanPort
	case src == 0:
		src = dst
	case dst == 0:
		dst = src
	}
	e := end{role: r, kind: kindVxlan, local: local, remote: remote, vni: vni, localPort: src, remotePort: dst}
	if r == roleUp {
		e.localPort, e.remotePort = dst, src
	}
	return e, nil
}

func (d *Dataplane) wireguardEnd(m *wgmech.Mechanism, r role) (end, error) {
	if d.o.wgKeys == nil {
		return end{}, fmt.Errorf("%w: WIREGUARD needs the forwarder's key allocator (WithWireGuard)", ErrUnsupported)
	}
	local, remote, err := tunnelAddrs(m.SrcIP(), m.DstIP(), r)
	if err != nil {
		return end{}, err
	}
	if err := d.checkLocal(local); err != nil {
		return end{}, err
	}
	srcPort, err1 := m.SrcPort()
	dstPort, err2 := m.DstPort()
	if err := errors.Join(err1, err2); err != nil {
		return end{}, err
	}
	if srcPort == 0 || dstPort == 0 {
		return end{}, fmt.Errorf("src_port %d and dst_port %d must both be set", srcPort, dstPort)
	}
	srcKey, err1 := m.SrcPublicKey()
	dstKey, err2 := m.DstPublicKey()
	if err := errors.Join(err1, err2); err != nil {
		return end{}, err
	}
	e := end{role: r, kind: kindWireguard, local: local, remote: remote,
		localPort: srcPort, remotePort: dstPort, public: srcKey, peerKey: dstKey}
	param := wgmech.SrcPublicKey
	if r == roleUp {
		e.localPort, e.remotePort, e.public, e.peerKey = dstPort, srcPort, dstKey, srcKey
		param = wgmech.DstPublicKey
	}
	private, ok := d.o.wgKeys.PrivateKey(e.public)
	if !ok {
		return end{}, fmt.Errorf("no private key for %s %s: this forwarder did not publish it (or has restarted since)", param, e.public)
	}
	e.private = private
	return e, nil
}

// mtu is the MTU of both interfaces: for a tunnel, the underlay's minus the
// encapsulation, lowered to the context's and the mechanism's MTU when
// those are set and smaller; for a local connection the context's, or
// DefaultMTU.
func (d *Dataplane) mtu(pl plan, up, down *networkservice.Mechanism) (int, error) {
	ctxMTU := int(pl.cc.GetMTU())
	var tunnel *end
	for i := range pl.ends {
		if pl.ends[i].kind != kindTap {
			tunnel = &pl.ends[i]
		}
	}
	if tunnel == nil {
		if ctxMTU > 0 {
			return ctxMTU, nil
		}
		return DefaultMTU, nil
	}
	overhead := kernel.VxlanOverheadIPv4
	switch {
	case tunnel.kind == kindVxlan && tunnel.remote.Is6():
		overhead = kernel.VxlanOverheadIPv6
	case tunnel.kind == kindWireguard && tunnel.remote.Is4():
		overhead = wireguardOverheadIPv4
	case tunnel.kind == kindWireguard:
		overhead = wireguardOverheadIPv6
	}
	mech := up
	if tunnel.role == roleDown {
		mech = down
	}
	capMTU, err := common.NewTunnel(mech).MTU()
	if err != nil {
		return 0, err
	}
	mtu := d.o.underlayMTU - overhead
	for _, c := range []int{ctxMTU, int(capMTU)} {
		if c > 0 && c < mtu {
			mtu = c
		}
	}
	if mtu < minMTU {
		return 0, fmt.Errorf("%s MTU %d is below the IPv4 minimum (underlay %d)", tunnel.kind, mtu, d.o.underlayMTU)
	}
	return mtu, nil
}
