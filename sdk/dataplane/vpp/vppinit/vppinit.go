// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package vppinit

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/sirupsen/logrus"
	"go.fd.io/govpp/api"
	"go.fd.io/govpp/binapi/acl"
	"go.fd.io/govpp/binapi/acl_types"
	"go.fd.io/govpp/binapi/af_packet"
	"go.fd.io/govpp/binapi/ethernet_types"
	"go.fd.io/govpp/binapi/fib_types"
	interfaces "go.fd.io/govpp/binapi/interface"
	"go.fd.io/govpp/binapi/interface_types"
	"go.fd.io/govpp/binapi/ip"
	"go.fd.io/govpp/binapi/ip6_nd"
	"go.fd.io/govpp/binapi/ip_neighbor"
	"go.fd.io/govpp/binapi/ip_types"

	"github.com/nsmesh/nsmesh/sdk/dataplane/vpp"
)

// AF_PACKET parameters, those of upstream's forwarder.
const (
	FrameSize      = 10240
	FramesPerBlock = 1024
)

// ACL tags. The deny-all pair closes the uplink; the pinhole pair, before
// it in the interface's lists, opens the tunnel ports.
const (
	TagDenyIngress    = "nsm-vppinit-denyall-ingress"
	TagDenyEgress     = "nsm-vppinit-denyall-egress"
	TagPinholeIngress = "nsm-vppinit-pinhole-ingress"
	TagPinholeEgress  = "nsm-vppinit-pinhole-egress"
)

// ICMPv6 types left open by the deny-all ACLs.
const (
	icmp6RS = 133
	icmp6RA = 134
	icmp6NS = 135
	icmp6NA = 136
)

// Result is what the data plane needs from the uplink.
type Result struct {
	SwIfIndex interface_types.InterfaceIndex
	// TunnelIP is the address VPP now owns on the uplink.
	TunnelIP net.IP
	// MTU is the uplink's (kernel) MTU, now also VPP's.
	MTU int
	// Created is false when an af_packet interface of an earlier run was
	// reused.
	Created bool
}

// Init attaches VPP to up (see the package documentation for the messages).
// It may be called again against the same VPP: it reuses what an earlier
// call made.
func Init(ctx context.Context, conn api.Connection, up *Uplink, opts ...Option) (*Result, error) {
	if up == nil || up.Addr == nil || len(up.MAC) != 6 || up.MTU <= 0 || up.Name == "" {
		return nil, errors.New("vppinit: incomplete uplink (name, 6-byte MAC, MTU and address are needed)")
	}
	o := newOptions(opts)
	v := &vppAPI{
		log: o.logger.WithField("uplink", up.Name),
		afp: af_packet.NewServiceClient(conn), ifc: interfaces.NewServiceClient(conn),
		acl: acl.NewServiceClient(conn), ip: ip.NewServiceClient(conn),
		nd: ip6_nd.NewServiceClient(conn), nb: ip_neighbor.NewServiceClient(conn),
	}
	start := time.Now()
	idx, created, err := v.afPacket(ctx, up)
	if err != nil {
		return nil, err
	}
	if err := v.setMTU(ctx, idx, up.MTU); err != nil {
		return nil, err
	}
	if err := v.acls(ctx, idx, up.Addr.IP, o); err != nil {
		return nil, err
	}
	v6 := up.Addr.IP.To4() == nil
	if v6 {
		if err := v.ip6(ctx, idx); err != nil {
			return nil, err
		}
	}
	if err := v.setUp(ctx, idx); err != nil {
		return nil, err
	}
	for _, n := range up.Neighbours {
		if err := v.neighbour(ctx, idx, n); err != nil {
			return nil, err
		}
	}
	if err := v.address(ctx, idx, up.Addr); err != nil {
		return nil, err
	}
	for _, r := range up.Routes {
		if err := v.route(ctx, idx, r); err != nil {
			return nil, err
		}
	}
	v.log.WithFields(logrus.Fields{"sw_if_index": idx, "created": created, "tunnel_ip": up.Addr.IP, "mtu": up.MTU,
		"neighbours": len(up.Neighbours), "routes": len(up.Routes), "duration": time.Since(start)}).Info("uplink attached to VPP")
	return &Result{SwIfIndex: idx, TunnelIP: up.Addr.IP, MTU: up.MTU, Created: created}, nil
}

type vppAPI struct {
	log logrus.FieldLogger
	afp af_packet.RPCService
	ifc interfaces.RPCService
	acl acl.RPCService
	ip  ip.RPCService
	nd  ip6_nd.RPCService
	nb  ip_neighbor.RPCService
}

// call runs one request, logs it and names it in its error.
func (v *vppAPI) call(req api.Message, f func() error) error {
	start := time.Now()
	err := f()
	log := v.log.WithFields(logrus.Fields{"msg": req.GetMessageName(), "duration": time.Since(start)})
	if err != nil {
		var vErr api.VPPApiError
		if errors.As(err, &vErr) {
			return fmt.Errorf("vppinit: %s: VPP refused (retval %d): %w", req.GetMessageName(), int32(vErr), err)
		}
		return fmt.Errorf("vppinit: %s: %w", req.GetMessageName(), err)
	}
	log.Debug("VPP message")
	return nil
}

// afPacket finds host-<name> by af_packet_dump, or creates it.
func (v *vppAPI) afPacket(ctx context.Context, up *Uplink) (interface_types.InterfaceIndex, bool, error) {
	var found *af_packet.AfPacketDetails
	dump := &af_packet.AfPacketDump{}
	if err := v.call(dump, func() error {
		s, err := v.afp.AfPacketDump(ctx, dump)
		if err != nil {
			return err
		}
		return vpp.Drain(s, func(d *af_packet.AfPacketDetails) {
			if d.HostIfName == up.Name && found == nil {
				found = d
			}
		})
	}); err != nil {
		return 0, false, err
	}
	if found != nil {
		return found.SwIfIndex, false, nil
	}
	req := &af_packet.AfPacketCreateV3{
		Mode:             af_packet.AF_PACKET_API_MODE_ETHERNET,
		HwAddr:           ethernet_types.NewMacAddress(up.MAC),
		HostIfName:       up.Name,
		RxFrameSize:      FrameSize,
		TxFrameSize:      FrameSize,
		RxFramesPerBlock: FramesPerBlock,
		TxFramesPerBlock: FramesPerBlock,
		Flags:            af_packet.AF_PACKET_API_FLAG_VERSION_2,
		NumRxQueues:      1,
		NumTxQueues:      1,
	}
	var idx interface_types.InterfaceIndex
	err := v.call(req, func() error {
		rep, err := v.afp.AfPacketCreateV3(ctx, req)
		if err == nil {
			idx = rep.SwIfIndex
		}
		return err
	})
	return idx, true, err
}

func (v *vppAPI) setMTU(ctx context.Context, idx interface_types.InterfaceIndex, mtu int) error {
	m := uint32(mtu)
	req := &interfaces.SwInterfaceSetMtu{SwIfIndex: idx, Mtu: []uint32{m, m, m, m}}
	return v.call(req, func() error { _, err := v.ifc.SwInterfaceSetMtu(ctx, req); return err })
}

func (v *vppAPI) setUp(ctx context.Context, idx interface_types.InterfaceIndex) error {
	req := &interfaces.SwInterfaceSetFlags{SwIfIndex: idx, Flags: interface_types.IF_STATUS_API_FLAG_ADMIN_UP}
	return v.call(req, func() error { _, err := v.ifc.SwInterfaceSetFlags(ctx, req); return err })
}

func (v *vppAPI) ip6(ctx context.Context, idx interface_types.InterfaceIndex) error {
	en := &ip.SwInterfaceIP6EnableDisable{SwIfIndex: idx, Enable: true}
	if err := v.call(en, func() error { _, err := v.ip.SwInterfaceIP6EnableDisable(ctx, en); return err }); err != nil {
		return err
	}
	ra := &ip6_nd.SwInterfaceIP6ndRaConfig{SwIfIndex: idx, Suppress: 1}
	return v.call(ra, func() error { _, err := v.nd.SwInterfaceIP6ndRaConfig(ctx, ra); return err })
}

// acls installs (or replaces in place, found by tag) the pinhole and
// deny-all ACLs and sets the interface's lists to exactly them.
func (v *vppAPI) acls(ctx context.Context, idx interface_types.InterfaceIndex, tunnelIP net.IP, o *options) error {
	existing := make(map[string]uint32)
	dump := &acl.ACLDump{ACLIndex: ^uint32(0)}
	if err := v.call(dump, func() error {
		s, err := v.acl.ACLDump(ctx, dump)
		if err != nil {
			return err
		}
		return vpp.Drain(s, func(d *acl.ACLDetails) {
			if _, ok := existing[d.Tag]; !ok {
				existing[d.Tag] = d.ACLIndex
			}
		})
	}); err != nil {
		return err
	}
	in, out := pinholeRules(tunnelIP, o)
	lists := []struct {
		tag   string
		rules []acl_types.ACLRule
	}{
		{TagPinholeIngress, in},
		{TagDenyIngress, denyRules(icmp6RA, icmp6NA)},
		{TagPinholeEgress, out},
		{TagDenyEgress, denyRules(icmp6RS, icmp6NS)},
	}
	indexes := make([]uint32, len(lists))
	for i, l := range lists {
		at, ok := existing[l.tag]
		if !ok {
			at = ^uint32(0)
		}
		req := &acl.ACLAddReplace{ACLIndex: at, Tag: l.tag, Count: uint32(len(l.rules)), R: l.rules}
		if err := v.call(req, func() error {
			rep, err := v.acl.ACLAddReplace(ctx, req)
			if err == nil {
				indexes[i] = rep.ACLIndex
			}
			return err
		}); err != nil {
			return err
		}
	}
	set := &acl.ACLInterfaceSetACLList{SwIfIndex: idx, Count: uint8(len(indexes)), NInput: 2, Acls: indexes}
	return v.call(set, func() error { _, err := v.acl.ACLInterfaceSetACLList(ctx, set); return err })
}

// denyRules permits the two ICMPv6 types given and denies all other IPv4
// and IPv6.
func denyRules(icmpTypes ...uint16) []acl_types.ACLRule {
	v4, v6 := anyPrefix(false), anyPrefix(true)
	var rules []acl_types.ACLRule
	for _, t := range icmpTypes {
		rules = append(rules, acl_types.ACLRule{IsPermit: acl_types.ACL_ACTION_API_PERMIT, SrcPrefix: v6, DstPrefix: v6,
			Proto: ip_types.IP_API_PROTO_ICMP6, SrcportOrIcmptypeFirst: t, SrcportOrIcmptypeLast: t,
			DstportOrIcmpcodeFirst: 0, DstportOrIcmpcodeLast: 255})
	}
	return append(rules,
		acl_types.ACLRule{IsPermit: acl_types.ACL_ACTION_API_DENY, SrcPrefix: v4, DstPrefix: v4},
		acl_types.ACLRule{IsPermit: acl_types.ACL_ACTION_API_DENY, SrcPrefix: v6, DstPrefix: v6})
}

// pinholeRules permits, in, UDP to the tunnel address on the VXLAN port and
// the WireGuard ports; out, UDP from it to the VXLAN port, from a
// WireGuard port and to a WireGuard port.
func pinholeRules(tunnelIP net.IP, o *options) (in, out []acl_types.ACLRule) {
	v6 := tunnelIP.To4() == nil
	self := hostPrefix(tunnelIP)
	anyP := anyPrefix(v6)
	udp := func(src, dst ip_types.Prefix, sf, sl, df, dl uint16) acl_types.ACLRule {
		return acl_types.ACLRule{IsPermit: acl_types.ACL_ACTION_API_PERMIT, SrcPrefix: src, DstPrefix: dst,
			Proto: ip_types.IP_API_PROTO_UDP, SrcportOrIcmptypeFirst: sf, SrcportOrIcmptypeLast: sl,
			DstportOrIcmpcodeFirst: df, DstportOrIcmpcodeLast: dl}
	}
	in = append(in, udp(anyP, self, 0, 65535, o.vxlanPort, o.vxlanPort))
	out = append(out, udp(self, anyP, 0, 65535, o.vxlanPort, o.vxlanPort))
	if o.wgFirst != 0 && o.wgLast >= o.wgFirst {
		in = append(in, udp(anyP, self, 0, 65535, o.wgFirst, o.wgLast))
		out = append(out, udp(self, anyP, o.wgFirst, o.wgLast, 0, 65535), udp(self, anyP, 0, 65535, o.wgFirst, o.wgLast))
	}
	return in, out
}

func anyPrefix(v6 bool) ip_types.Prefix {
	if v6 {
		return ip_types.NewPrefix(net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)})
	}
	return ip_types.NewPrefix(net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)})
}

func hostPrefix(ipa net.IP) ip_types.Prefix {
	if v4 := ipa.To4(); v4 != nil {
		return ip_types.NewPrefix(net.IPNet{IP: v4, Mask: net.CIDRMask(32, 32)})
	}
	return ip_types.NewPrefix(net.IPNet{IP: ipa, Mask: net.CIDRMask(128, 128)})
}

func (v *vppAPI) neighbour(ctx context.Context, idx interface_types.InterfaceIndex, n Neighbour) error {
	req := &ip_neighbor.IPNeighborAddDel{IsAdd: true, Neighbor: ip_neighbor.IPNeighbor{SwIfIndex: idx,
		Flags: ip_neighbor.IP_API_NEIGHBOR_FLAG_NONE, MacAddress: ethernet_types.NewMacAddress(n.MAC),
		IPAddress: ip_types.NewAddress(n.IP)}}
	return v.call(req, func() error { _, err := v.nb.IPNeighborAddDel(ctx, req); return err })
}

// address adds the tunnel address unless ip_address_dump shows it there.
func (v *vppAPI) address(ctx context.Context, idx interface_types.InterfaceIndex, a *net.IPNet) error {
	have := false
	dump := &ip.IPAddressDump{SwIfIndex: idx, IsIPv6: a.IP.To4() == nil}
	if err := v.call(dump, func() error {
		s, err := v.ip.IPAddressDump(ctx, dump)
		if err != nil {
			return err
		}
		return vpp.Drain(s, func(d *ip.IPAddressDetails) {
			if d.Prefix.Address.ToIP().Equal(a.IP) {
				have = true
			}
		})
	}); err != nil || have {
		return err
	}
	p := *a
	if v4 := a.IP.To4(); v4 != nil {
		p.IP = v4
	}
	req := &interfaces.SwInterfaceAddDelAddress{SwIfIndex: idx, IsAdd: true, Prefix: ip_types.NewAddressWithPrefix(p)}
	return v.call(req, func() error { _, err := v.ifc.SwInterfaceAddDelAddress(ctx, req); return err })
}

// route adds r through the uplink; not multipath, so that adding it again
// replaces it instead of adding a second path.
func (v *vppAPI) route(ctx context.Context, idx interface_types.InterfaceIndex, r Route) error {
	path := fib_types.FibPath{SwIfIndex: uint32(idx), Weight: 1, Proto: fib_types.FIB_API_PATH_NH_PROTO_IP4}
	if r.Dst.IP.To4() == nil {
		path.Proto = fib_types.FIB_API_PATH_NH_PROTO_IP6
	}
	if r.Gw != nil {
		path.Nh.Address = ip_types.NewAddress(r.Gw).Un
	}
	dst := *r.Dst
	if v4 := dst.IP.To4(); v4 != nil {
		dst.IP = v4
	}
	req := &ip.IPRouteAddDel{IsAdd: true, Route: ip.IPRoute{Prefix: ip_types.NewPrefix(dst), NPaths: 1, Paths: []fib_types.FibPath{path}}}
	return v.call(req, func() error { _, err := v.ip.IPRouteAddDel(ctx, req); return err })
}
