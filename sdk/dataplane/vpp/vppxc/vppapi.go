// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package vppxc

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/sirupsen/logrus"
	"go.fd.io/govpp/api"
	"go.fd.io/govpp/binapi/fib_types"
	interfaces "go.fd.io/govpp/binapi/interface"
	"go.fd.io/govpp/binapi/interface_types"
	"go.fd.io/govpp/binapi/ip_types"
	"go.fd.io/govpp/binapi/l2"
	"go.fd.io/govpp/binapi/l3xc"
	"go.fd.io/govpp/binapi/tapv2"
	"go.fd.io/govpp/binapi/vlib"
	"go.fd.io/govpp/binapi/vxlan"
	"go.fd.io/govpp/binapi/wireguard"

	wgmech "github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/wireguard"
	"github.com/nsmesh/nsmesh/sdk/dataplane/vpp"
)

// noIndex is ~0, VPP's "none" for interface indexes and instances.
const noIndex = ^uint32(0)

// vppAPI sends the binary-API messages this package uses. Every error names
// the message and, when VPP refused it, its retval; every message is logged
// with how long it took.
type vppAPI struct {
	log  logrus.FieldLogger
	ifc  interfaces.RPCService
	tap  tapv2.RPCService
	vlib vlib.RPCService
	vxl  vxlan.RPCService
	wg   wireguard.RPCService
	l2   l2.RPCService
	l3xc l3xc.RPCService
}

func newVPPAPI(conn api.Connection, log logrus.FieldLogger) *vppAPI {
	return &vppAPI{
		log:  log,
		ifc:  interfaces.NewServiceClient(conn),
		tap:  tapv2.NewServiceClient(conn),
		vlib: vlib.NewServiceClient(conn),
		vxl:  vxlan.NewServiceClient(conn),
		wg:   wireguard.NewServiceClient(conn),
		l2:   l2.NewServiceClient(conn),
		l3xc: l3xc.NewServiceClient(conn),
	}
}

// errOutcomeUnknown is wrapped by the error of a message that got no
// answer (its context ended, the connection broke): VPP may or may not have
// carried it out.
var errOutcomeUnknown = errors.New("outcome unknown")

// retval returns the VPP return value carried by err, if VPP refused the
// message.
func retval(err error) (int32, bool) {
	var e api.VPPApiError
	if errors.As(err, &e) {
		return int32(e), true
	}
	return 0, false
}

// call runs one message, wraps its error and logs it.
func (v *vppAPI) call(log logrus.FieldLogger, msg api.Message, fields logrus.Fields, send func() error) error {
	start := time.Now()
	err := send()
	entry := log.WithFields(fields).WithFields(logrus.Fields{"vppapi": msg.GetMessageName(), "duration": time.Since(start)})
	if err != nil {
		if rv, ok := retval(err); ok {
			err = fmt.Errorf("vppxc: %s: retval %d: %w", msg.GetMessageName(), rv, err)
		} else {
			err = fmt.Errorf("vppxc: %s: %w: %w", msg.GetMessageName(), errOutcomeUnknown, err)
		}
		entry.WithError(err).Debug("vppxc: message failed")
		return err
	}
	entry.Debug("vppxc: message done")
	return nil
}

func (v *vppAPI) createTap(ctx context.Context, log logrus.FieldLogger, e end, t string, mtu int) (interface_types.InterfaceIndex, error) {
	req := &tapv2.TapCreateV3{
		ID:               noIndex,
		UseRandomMac:     true,
		NumRxQueues:      1,
		NumTxQueues:      1,
		TxRingSz:         1024,
		RxRingSz:         1024,
		HostMtuSet:       true,
		HostMtuSize:      uint32(mtu),
		HostNamespaceSet: true,
		HostNamespace:    e.nsPath,
		HostIfNameSet:    true,
		HostIfName:       e.ifName,
		// Tagged at birth as well as by sw_interface_tag_add_del, so that a
		// create whose reply is lost still leaves a tap Prune can find.
		Tag: t,
	}
	if e.tun {
		req.TapFlags = tapv2.TAP_API_FLAG_TUN
	}
	var idx interface_types.InterfaceIndex
	err := v.call(log, req, logrus.Fields{"netns": e.nsPath, "if": e.ifName, "tun": e.tun}, func() error {
		rep, err := v.tap.TapCreateV3(ctx, req)
		if err == nil {
			idx = rep.SwIfIndex
		}
		return err
	})
	return idx, err
}

func (v *vppAPI) deleteTap(ctx context.Context, log logrus.FieldLogger, idx interface_types.InterfaceIndex) error {
	req := &tapv2.TapDeleteV2{SwIfIndex: idx}
	return v.call(log, req, logrus.Fields{"sw_if_index": idx}, func() error {
		_, err := v.tap.TapDeleteV2(ctx, req)
		return err
	})
}

func (v *vppAPI) setTag(ctx context.Context, log logrus.FieldLogger, idx interface_types.InterfaceIndex, t string) error {
	req := &interfaces.SwInterfaceTagAddDel{IsAdd: true, SwIfIndex: idx, Tag: t}
	return v.call(log, req, logrus.Fields{"sw_if_index": idx, "tag": t}, func() error {
		_, err := v.ifc.SwInterfaceTagAddDel(ctx, req)
		return err
	})
}

func (v *vppAPI) setRxModeAdaptive(ctx context.Context, log logrus.FieldLogger, idx interface_types.InterfaceIndex) error {
	req := &interfaces.SwInterfaceSetRxMode{SwIfIndex: idx, Mode: interface_types.RX_MODE_API_ADAPTIVE}
	return v.call(log, req, logrus.Fields{"sw_if_index": idx}, func() error {
		_, err := v.ifc.SwInterfaceSetRxMode(ctx, req)
		return err
	})
}

// setMTU sets the same MTU in all four slots (L3, IPv4, IPv6, MPLS).
func (v *vppAPI) setMTU(ctx context.Context, log logrus.FieldLogger, idx interface_types.InterfaceIndex, mtu int) error {
	m := uint32(mtu)
	req := &interfaces.SwInterfaceSetMtu{SwIfIndex: idx, Mtu: []uint32{m, m, m, m}}
	return v.call(log, req, logrus.Fields{"sw_if_index": idx, "mtu": mtu}, func() error {
		_, err := v.ifc.SwInterfaceSetMtu(ctx, req)
		return err
	})
}

func (v *vppAPI) setUp(ctx context.Context, log logrus.FieldLogger, idx interface_types.InterfaceIndex) error {
	req := &interfaces.SwInterfaceSetFlags{SwIfIndex: idx, Flags: interface_types.IF_STATUS_API_FLAG_ADMIN_UP}
	return v.call(log, req, logrus.Fields{"sw_if_index": idx}, func() error {
		_, err := v.ifc.SwInterfaceSetFlags(ctx, req)
		return err
	})
}

// dump lists the interfaces, or the one with index idx (nil or empty when
// there is none).
func (v *vppAPI) dump(ctx context.Context, log logrus.FieldLogger, idx interface_types.InterfaceIndex) ([]*interfaces.SwInterfaceDetails, error) {
	req := &interfaces.SwInterfaceDump{SwIfIndex: idx}
	var out []*interfaces.SwInterfaceDetails
	err := v.call(log, req, logrus.Fields{"sw_if_index": idx}, func() error {
		s, err := v.ifc.SwInterfaceDump(ctx, req)
		if err != nil {
			return err
		}
		return vpp.Drain(s, func(det *interfaces.SwInterfaceDetails) { out = append(out, det) })
	})
	return out, err
}

func (v *vppAPI) addNodeNext(ctx context.Context, log logrus.FieldLogger, node, next string) (uint32, error) {
	req := &vlib.AddNodeNext{NodeName: node, NextName: next}
	var idx uint32
	err := v.call(log, req, logrus.Fields{"node": node, "next": next}, func() error {
		rep, err := v.vlib.AddNodeNext(ctx, req)
		if err == nil {
			idx = rep.NextIndex
		}
		return err
	})
	return idx, err
}

// vxlanTunnel sends vxlan_add_del_tunnel_v3: VPP identifies a tunnel to
// delete by its addresses, ports and VNI, not by its index.
func (v *vppAPI) vxlanTunnel(ctx context.Context, log logrus.FieldLogger, add bool, t *vxlan.VxlanAddDelTunnelV3) (interface_types.InterfaceIndex, error) {
	req := *t
	req.IsAdd = add
	var idx interface_types.InterfaceIndex
	err := v.call(log, &req, logrus.Fields{"add": add, "src": req.SrcAddress, "dst": req.DstAddress, "vni": req.Vni}, func() error {
		rep, err := v.vxl.VxlanAddDelTunnelV3(ctx, &req)
		if err == nil {
			idx = rep.SwIfIndex
		}
		return err
	})
	return idx, err
}

// vxlanDump returns the tunnel with index idx, nil when it is not a VXLAN
// tunnel.
func (v *vppAPI) vxlanDump(ctx context.Context, log logrus.FieldLogger, idx interface_types.InterfaceIndex) (*vxlan.VxlanTunnelV2Details, error) {
	req := &vxlan.VxlanTunnelV2Dump{SwIfIndex: idx}
	var out *vxlan.VxlanTunnelV2Details
	err := v.call(log, req, logrus.Fields{"sw_if_index": idx}, func() error {
		s, err := v.vxl.VxlanTunnelV2Dump(ctx, req)
		if err != nil {
			return err
		}
		return vpp.Drain(s, func(det *vxlan.VxlanTunnelV2Details) {
			if det.SwIfIndex == idx {
				out = det
			}
		})
	})
	return out, err
}

func (v *vppAPI) wgCreate(ctx context.Context, log logrus.FieldLogger, e end) (interface_types.InterfaceIndex, error) {
	req := &wireguard.WireguardInterfaceCreate{
		Interface: wireguard.WireguardInterface{
			UserInstance: noIndex,
			PrivateKey:   e.private[:],
			Port:         e.localPort,
			SrcIP:        ip_types.NewAddress(e.local.AsSlice()),
		},
		GenerateKey: false,
	}
	var idx interface_types.InterfaceIndex
	err := v.call(log, req, logrus.Fields{"src": e.local, "port": e.localPort, "public_key": e.public}, func() error {
		rep, err := v.wg.WireguardInterfaceCreate(ctx, req)
		if err == nil {
			idx = rep.SwIfIndex
		}
		return err
	})
	return idx, err
}

func (v *vppAPI) wgDelete(ctx context.Context, log logrus.FieldLogger, idx interface_types.InterfaceIndex) error {
	req := &wireguard.WireguardInterfaceDelete{SwIfIndex: idx}
	return v.call(log, req, logrus.Fields{"sw_if_index": idx}, func() error {
		_, err := v.wg.WireguardInterfaceDelete(ctx, req)
		return err
	})
}

// allIPs are the allowed IPs of every peer: the tunnel is point to point and
// the L3 cross-connect does the routing.
var allIPs = []ip_types.Prefix{
	{Address: ip_types.Address{Af: ip_types.ADDRESS_IP4}},
	{Address: ip_types.Address{Af: ip_types.ADDRESS_IP6}},
}

func (v *vppAPI) wgPeerAdd(ctx context.Context, log logrus.FieldLogger, idx interface_types.InterfaceIndex, p peer, keepalive time.Duration) (uint32, error) {
	req := &wireguard.WireguardPeerAdd{Peer: wireguard.WireguardPeer{
		PublicKey:           p.key[:],
		Port:                p.endpoint.Port(),
		PersistentKeepalive: uint16(keepalive / time.Second),
		Endpoint:            ip_types.NewAddress(p.endpoint.Addr().AsSlice()),
		SwIfIndex:           idx,
		NAllowedIps:         uint8(len(allIPs)),
		AllowedIps:          allIPs,
	}}
	var peerIndex uint32
	err := v.call(log, req, logrus.Fields{"sw_if_index": idx, "peer": p.key, "endpoint": p.endpoint}, func() error {
		rep, err := v.wg.WireguardPeerAdd(ctx, req)
		if err == nil {
			peerIndex = rep.PeerIndex
		}
		return err
	})
	return peerIndex, err
}

func (v *vppAPI) wgPeerRemove(ctx context.Context, log logrus.FieldLogger, peerIndex uint32) error {
	req := &wireguard.WireguardPeerRemove{PeerIndex: peerIndex}
	return v.call(log, req, logrus.Fields{"peer_index": peerIndex}, func() error {
		_, err := v.wg.WireguardPeerRemove(ctx, req)
		return err
	})
}

func (v *vppAPI) l2xc(ctx context.Context, log logrus.FieldLogger, rx, tx interface_types.InterfaceIndex, enable bool) error {
	req := &l2.SwInterfaceSetL2Xconnect{RxSwIfIndex: rx, TxSwIfIndex: tx, Enable: enable}
	return v.call(log, req, logrus.Fields{"rx": rx, "tx": tx, "enable": enable}, func() error {
		_, err := v.l2.SwInterfaceSetL2Xconnect(ctx, req)
		return err
	})
}

// l3xcUpdate sends every packet of the family entering rx out of tx, to
// nextHop when it is valid.
func (v *vppAPI) l3xcUpdate(ctx context.Context, log logrus.FieldLogger, x xcOp) error {
	path := fib_types.FibPath{
		SwIfIndex: uint32(x.tx),
		Weight:    1,
		Type:      fib_types.FIB_API_PATH_TYPE_NORMAL,
		Proto:     fib_types.FIB_API_PATH_NH_PROTO_IP4,
	}
	if x.ip6 {
		path.Proto = fib_types.FIB_API_PATH_NH_PROTO_IP6
	}
	switch {
	case x.nextHop.Is4():
		path.Nh.Address.SetIP4(x.nextHop.As4())
	case x.nextHop.Is6():
		path.Nh.Address.SetIP6(x.nextHop.As16())
	}
	req := &l3xc.L3xcUpdate{L3xc: l3xc.L3xc{SwIfIndex: x.rx, IsIP6: x.ip6, NPaths: 1, Paths: []fib_types.FibPath{path}}}
	return v.call(log, req, logrus.Fields{"rx": x.rx, "tx": x.tx, "ip6": x.ip6, "next_hop": x.nextHop}, func() error {
		_, err := v.l3xc.L3xcUpdate(ctx, req)
		return err
	})
}

func (v *vppAPI) l3xcDel(ctx context.Context, log logrus.FieldLogger, rx interface_types.InterfaceIndex, ip6 bool) error {
	req := &l3xc.L3xcDel{SwIfIndex: rx, IsIP6: ip6}
	return v.call(log, req, logrus.Fields{"rx": rx, "ip6": ip6}, func() error {
		_, err := v.l3xc.L3xcDel(ctx, req)
		return err
	})
}

// peer is a WireGuard peer: its public key and endpoint.
type peer struct {
	key      wgmech.Key
	endpoint netip.AddrPort
}
