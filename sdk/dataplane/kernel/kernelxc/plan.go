// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package kernelxc

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	kernelmech "github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/kernel"
	vxlanmech "github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/vxlan"
	wgmech "github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/wireguard"
	"github.com/nsmesh/nsmesh/sdk/dataplane/kernel"
	"github.com/nsmesh/nsmesh/sdk/networkservice/xconnect"
)

// ErrUnsupported is wrapped by the error for a mechanism pair this data
// plane cannot program.
var ErrUnsupported = errors.New("kernelxc: unsupported mechanism pair")

type kind int

const (
	kindVeth kind = iota + 1
	kindVxlan
	kindWireguard
)

func (k kind) String() string {
	switch k {
	case kindVeth:
		return "veth"
	case kindVxlan:
		return "vxlan"
	case kindWireguard:
		return "wireguard"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// end is one interface of a connection as the mechanisms describe it.
type end struct {
	// path is the netns file (from the kernel mechanism's file:// URL).
	path string
	name string
	side kernel.Side
}

// plan is what a Pair asks for, computed without touching the kernel.
type plan struct {
	kind kind
	mark kernel.Mark
	// ends: for a veth the client end then the endpoint end; for a vxlan
	// the one workload end.
	ends []end
	cc   *networkservice.ConnectionContext

	vni           uint32
	local, remote net.IP
	port          int
	// mtuCap is the tunnel mechanism's MTU parameter, 0 when absent.
	mtuCap int

	// wg is set for kindWireguard.
	wg *wgPlan
}

// makePlan decides what to program for p.
func makePlan(owner string, p *xconnect.Pair) (plan, error) {
	if p == nil || p.ID == "" {
		return plan{}, errors.New("kernelxc: pair without a connection id")
	}
	pl := plan{mark: kernel.Mark{Owner: owner, ConnID: p.ID}, cc: p.Upstream.GetContext()}
	if pl.cc == nil {
		pl.cc = p.Downstream.GetContext()
	}
	if err := pl.mark.Validate(); err != nil {
		return plan{}, fmt.Errorf("kernelxc: connection %s: %w", p.ID, err)
	}
	up, down := p.Upstream.GetMechanism(), p.Downstream.GetMechanism()
	upK, downK := kernelmech.ToMechanism(up), kernelmech.ToMechanism(down)
	upX, downX := vxlanmech.ToMechanism(up), vxlanmech.ToMechanism(down)
	upW, downW := wgmech.ToMechanism(up), wgmech.ToMechanism(down)
	wrap := func(err error) error { return fmt.Errorf("kernelxc: connection %s: %w", p.ID, err) }
	switch {
	case upK != nil && downK != nil:
		pl.kind = kindVeth
		client, err := kernelEnd(upK, kernel.SideSrc, p.ID, "upstream")
		if err != nil {
			return plan{}, wrap(err)
		}
		endpoint, err := kernelEnd(downK, kernel.SideDst, p.ID, "downstream")
		if err != nil {
			return plan{}, wrap(err)
		}
		if client.path == endpoint.path && client.name == endpoint.name {
			endpoint.name = derivedName(p.ID, endpoint.side)
		}
		pl.ends = []end{client, endpoint}
	case upK != nil && downX != nil:
		// This node has the client; the tunnel goes from src (us) to dst.
		pl.kind = kindVxlan
		e, err := kernelEnd(upK, kernel.SideSrc, p.ID, "upstream")
		if err != nil {
			return plan{}, wrap(err)
		}
		pl.ends = []end{e}
		if err := pl.tunnel(downX, downX.SrcIP(), downX.DstIP()); err != nil {
			return plan{}, wrap(fmt.Errorf("downstream VXLAN: %w", err))
		}
	case upX != nil && downK != nil:
		// This node has the endpoint; the tunnel goes from dst (us) to src.
		pl.kind = kindVxlan
		e, err := kernelEnd(downK, kernel.SideDst, p.ID, "downstream")
		if err != nil {
			return plan{}, wrap(err)
		}
		pl.ends = []end{e}
		if err := pl.tunnel(upX, upX.DstIP(), upX.SrcIP()); err != nil {
			return plan{}, wrap(fmt.Errorf("upstream VXLAN: %w", err))
		}
	case upK != nil && downW != nil:
		// This node has the client: our side of the tunnel is src.
		if err := pl.wireguard(upK, downW, kernel.SideSrc, p.ID, "upstream"); err != nil {
			return plan{}, wrap(err)
		}
	case upW != nil && downK != nil:
		// This node has the endpoint: our side of the tunnel is dst.
		if err := pl.wireguard(downK, upW, kernel.SideDst, p.ID, "downstream"); err != nil {
			return plan{}, wrap(err)
		}
	default:
		return plan{}, wrap(fmt.Errorf("%w: upstream %s/%s, downstream %s/%s; supported: KERNEL-KERNEL, KERNEL-VXLAN, VXLAN-KERNEL, KERNEL-WIREGUARD, WIREGUARD-KERNEL",
			ErrUnsupported, up.GetCls(), up.GetType(), down.GetCls(), down.GetType()))
	}
	return pl, nil
}

// kernelEnd reads the namespace and interface name of a KERNEL mechanism.
func kernelEnd(m *kernelmech.Mechanism, side kernel.Side, connID, which string) (end, error) {
	path, err := m.NetNSPath()
	if err != nil {
		return end{}, fmt.Errorf("%s KERNEL mechanism: %w", which, err)
	}
	name := m.GetInterfaceName()
	if name == "" {
		name = derivedName(connID, side)
	} else if err := kernel.ValidateIfName(name); err != nil {
		return end{}, fmt.Errorf("%s KERNEL mechanism: %w", which, err)
	}
	return end{path: path, name: name, side: side}, nil
}

// derivedName is the interface name used when a mechanism names none: the
// same for every refresh and restart of the connection.
func derivedName(connID string, side kernel.Side) string {
	sum := sha256.Sum256([]byte(connID))
	tag := "c"
	if side == kernel.SideDst {
		tag = "e"
	}
	return "nsm" + tag + hex.EncodeToString(sum[:])[:kernel.MaxIfNameLen-4]
}

// tunnel fills the vxlan parameters; local and remote are this node's and
// the peer's tunnel addresses.
func (pl *plan) tunnel(m *vxlanmech.Mechanism, local, remote net.IP) error {
	if local == nil || remote == nil {
		return fmt.Errorf("src_ip %q and dst_ip %q must both be set", m.SrcIP(), m.DstIP())
	}
	if (local.To4() == nil) != (remote.To4() == nil) {
		return fmt.Errorf("src_ip %s and dst_ip %s are of different families", m.SrcIP(), m.DstIP())
	}
	vni, err := m.VNI()
	if err != nil {
		return err
	}
	if vni == 0 {
		return errors.New("no VNI: the endpoint-side forwarder must choose one")
	}
	src, err := m.SrcPort()
	if err != nil {
		return err
	}
	dst, err := m.DstPort()
	if err != nil {
		return err
	}
	switch {
	case src == 0 && dst == 0:
		pl.port = kernel.DefaultVxlanPort
	case src == 0:
		pl.port = int(dst)
	case dst == 0 || src == dst:
		pl.port = int(src)
	default:
		return fmt.Errorf("src_port %d differs from dst_port %d: a Linux vxlan device sends to and receives on the same port", src, dst)
	}
	mtu, err := m.MTU()
	if err != nil {
		return err
	}
	pl.vni, pl.local, pl.remote, pl.mtuCap = vni, local, remote, int(mtu)
	return nil
}
