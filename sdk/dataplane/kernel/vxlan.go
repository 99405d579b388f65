// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package kernel

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

const (
	// DefaultVxlanPort is the IANA VXLAN port, used when Vxlan.Port is 0.
	DefaultVxlanPort = 4789
	// VxlanOverheadIPv4 is what VXLAN adds over an IPv4 underlay: outer
	// IPv4 (20) + UDP (8) + VXLAN (8) + the inner Ethernet header (14). The
	// kernel uses the same figure (VXLAN_HEADROOM).
	VxlanOverheadIPv4 = 50
	// VxlanOverheadIPv6 is the same over an IPv6 underlay: the outer header
	// is 40 bytes (VXLAN6_HEADROOM).
	VxlanOverheadIPv6 = 70
	// maxVNI is the largest 24-bit VXLAN network identifier.
	maxVNI = 1<<24 - 1
)

// Vxlan is one end of a REMOTE/VXLAN connection: a vxlan device whose UDP
// socket lives in Host (the forwarder's namespace, which reaches the
// underlay) while the device itself lives in End.NS (the workload's), so
// encapsulated packets go straight from the workload to the wire.
//
// The device is created by a netlink socket in Host with IFLA_NET_NS_FD set
// to End.NS: the kernel binds the tunnel to the requesting namespace and
// registers the device, under its final name, in the target one. That is
// what "create on the host, move and rename" achieves, in one atomic step
// that cannot collide with a host interface name.
//
// VXLAN carries Ethernet. For IP payload nothing more is needed: the two
// ends form a two-host L2 segment (learning off; the remote is the default
// forwarding entry, so broadcasts such as ARP and NDP reach the peer) and
// neighbour resolution works. Static entries from ip_neighbors are applied
// by Configure if the context has them.
//
// The kernel demultiplexes received VXLAN packets by VNI and UDP port only,
// so a VNI must be unique among the vxlan devices of one host namespace
// (per port and address family) whatever their remotes: VNI selection must
// avoid VNIs already in use on this node, not only towards this peer.
type Vxlan struct {
	Mark Mark
	// Host holds the UDP socket; nil means the calling thread's namespace.
	Host *NetNS
	End  Endpoint
	// VNI is the 24-bit network identifier, 1 to 16777215.
	VNI uint32
	// Local is the source (tunnel) address on the underlay, Remote the peer's.
	Local, Remote net.IP
	// Port is the UDP destination port, also the one this end receives on;
	// 0 means DefaultVxlanPort.
	Port int
	// MTU of the device; 0 derives it from the underlay: the MTU of the
	// route towards Remote in Host, minus VxlanOverheadIPv4/IPv6.
	MTU int
}

// VxlanResult is the device as it exists after Ensure.
type VxlanResult struct {
	Link LinkInfo
	// Created is false when an existing device was adopted.
	Created bool
}

func (v Vxlan) port() int {
	if v.Port == 0 {
		return DefaultVxlanPort
	}
	return v.Port
}

func (v Vxlan) validate() error {
	if err := v.Mark.Validate(); err != nil {
		return err
	}
	if v.End.NS == nil {
		return errors.New("no workload namespace")
	}
	if err := ValidateIfName(v.End.Name); err != nil {
		return err
	}
	if v.VNI == 0 || v.VNI > maxVNI {
		return fmt.Errorf("vni %d out of range 1..%d", v.VNI, maxVNI)
	}
	if v.Local == nil || v.Remote == nil {
		return errors.New("local and remote addresses are required")
	}
	if (v.Local.To4() == nil) != (v.Remote.To4() == nil) {
		return fmt.Errorf("local %s and remote %s are of different families", v.Local, v.Remote)
	}
	if v.Port < 0 || v.Port > 65535 {
		return fmt.Errorf("port %d out of range", v.Port)
	}
	if v.MTU < 0 {
		return fmt.Errorf("negative mtu %d", v.MTU)
	}
	return nil
}

// matches reports whether l is a vxlan device with v's tunnel parameters.
func (v Vxlan) matches(l netlink.Link) bool {
	x, ok := l.(*netlink.Vxlan)
	return ok && x.VxlanId == int(v.VNI) && x.SrcAddr.Equal(v.Local) && x.Group.Equal(v.Remote) &&
		x.Port == v.port() && !x.Learning
}

// Ensure creates the device, or adopts it when a device of that name
// carrying v.Mark already has the same VNI, addresses and port (its MTU is
// refreshed when v.MTU is set, and it is set up). A device of ours with other
// parameters is replaced. A name held by a link without v.Mark is an error.
func (v Vxlan) Ensure(ctx context.Context, log logrus.FieldLogger) (VxlanResult, error) {
	start := time.Now()
	wrap := func(err error) error {
		return fmt.Errorf("kernel: create vxlan %s vni %d: %w", v.End, v.VNI, err)
	}
	if err := v.validate(); err != nil {
		return VxlanResult{}, wrap(err)
	}
	if err := ctx.Err(); err != nil {
		return VxlanResult{}, wrap(err)
	}
	log = logger(log).WithFields(logrus.Fields{"conn": v.Mark.ConnID, "if": v.End.String(), "vni": v.VNI,
		"local": v.Local.String(), "remote": v.Remote.String(), "port": v.port()})
	hw, err := v.End.NS.handle()
	if err != nil {
		return VxlanResult{}, wrap(err)
	}
	defer hw.Close()
	l, err := ownedOrAbsent(hw, v.End, v.Mark)
	if err != nil {
		return VxlanResult{}, wrap(err)
	}
	if l != nil {
		if v.matches(l) {
			if l, err = refresh(hw, l, v.MTU, v.Mark.Alias()); err != nil {
				return VxlanResult{}, wrap(err)
			}
			log.WithField("duration", time.Since(start)).Debug("kernel: adopted vxlan")
			return VxlanResult{Link: info(l)}, nil
		}
		if err := hw.LinkDel(l); err != nil && !isNotFound(err) {
			return VxlanResult{}, wrap(fmt.Errorf("remove stale %s: %w", v.End, err))
		}
	}

	mtu := v.MTU
	if mtu == 0 {
		underlay, err := UnderlayMTU(v.Host, v.Remote)
		if err != nil {
			return VxlanResult{}, wrap(err)
		}
		mtu = VxlanMTU(underlay, v.Remote)
	}
	hh, err := v.Host.handle()
	if err != nil {
		return VxlanResult{}, wrap(err)
	}
	defer hh.Close()
	attrs := netlink.NewLinkAttrs()
	attrs.Name = v.End.Name
	attrs.MTU = mtu
	attrs.Alias = v.Mark.Alias()
	attrs.Namespace = netlink.NsFd(v.End.NS.Fd())
	if err := hh.LinkAdd(&netlink.Vxlan{
		LinkAttrs: attrs,
		VxlanId:   int(v.VNI),
		SrcAddr:   v.Local,
		Group:     v.Remote,
		Port:      v.port(),
		Learning:  false,
	}); err != nil {
		if errors.Is(err, unix.EEXIST) {
			err = fmt.Errorf("%w (the name is taken in the workload namespace, or the VNI is in use by another vxlan device on port %d in the host namespace)", err, v.port())
		}
		return VxlanResult{}, wrap(err)
	}
	l, err = hw.LinkByName(v.End.Name)
	if err == nil {
		// The kernel ignores the alias in the create request.
		l, err = refresh(hw, l, 0, v.Mark.Alias())
	}
	if err != nil {
		if cl, lerr := hw.LinkByName(v.End.Name); lerr == nil {
			err = errors.Join(err, hw.LinkDel(cl))
		}
		return VxlanResult{}, wrap(err)
	}
	log.WithFields(logrus.Fields{"mtu": l.Attrs().MTU, "duration": time.Since(start)}).Info("kernel: created vxlan")
	return VxlanResult{Link: info(l), Created: true}, nil
}

// Delete removes the device if it carries v.Mark; a missing device is not an
// error. Like Veth.Delete it ignores the context's state.
func (v Vxlan) Delete(_ context.Context, log logrus.FieldLogger) error {
	start := time.Now()
	if v.End.NS == nil {
		return fmt.Errorf("kernel: delete vxlan %s: no workload namespace", v.End.Name)
	}
	log = logger(log).WithFields(logrus.Fields{"conn": v.Mark.ConnID, "if": v.End.String(), "vni": v.VNI})
	deleted, err := deleteOwned(v.End, v.Mark, log)
	if err != nil {
		return fmt.Errorf("kernel: delete vxlan %s: %w", v.End, err)
	}
	if deleted {
		log.WithField("duration", time.Since(start)).Info("kernel: deleted vxlan")
	}
	return nil
}

// UnderlayMTU returns the MTU of the path from host (nil: the calling
// thread's namespace) towards remote: the MTU of the egress link of the
// route, or the route's own MTU metric if that is lower.
func UnderlayMTU(host *NetNS, remote net.IP) (int, error) {
	h, err := host.handle()
	if err != nil {
		return 0, err
	}
	defer h.Close()
	routes, err := h.RouteGet(remote)
	if err != nil {
		return 0, fmt.Errorf("kernel: route to %s in %s: %w", remote, host, err)
	}
	if len(routes) == 0 {
		return 0, fmt.Errorf("kernel: no route to %s in %s", remote, host)
	}
	r := routes[0]
	l, err := h.LinkByIndex(r.LinkIndex)
	if err != nil {
		return 0, fmt.Errorf("kernel: egress link %d towards %s in %s: %w", r.LinkIndex, remote, host, err)
	}
	mtu := l.Attrs().MTU
	if r.MTU > 0 && r.MTU < mtu {
		mtu = r.MTU
	}
	return mtu, nil
}

// VxlanMTU is the largest inner MTU over an underlay of the given MTU when the
// outer header is of remote's family.
func VxlanMTU(underlay int, remote net.IP) int {
	if remote.To4() != nil {
		return underlay - VxlanOverheadIPv4
	}
	return underlay - VxlanOverheadIPv6
}
