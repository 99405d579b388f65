// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package vppxc_test

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"

	"go.fd.io/govpp/api"
	interfaces "go.fd.io/govpp/binapi/interface"
	"go.fd.io/govpp/binapi/interface_types"
	"go.fd.io/govpp/binapi/l2"
	"go.fd.io/govpp/binapi/l3xc"
	"go.fd.io/govpp/binapi/memclnt"
	"go.fd.io/govpp/binapi/tapv2"
	"go.fd.io/govpp/binapi/vlib"
	"go.fd.io/govpp/binapi/vxlan"
	"go.fd.io/govpp/binapi/wireguard"

	"github.com/nsmesh/nsmesh/sdk/dataplane/vpp/internal/fakevpp"
)

// Retvals the fake VPP gives, as VPP does (vnet/api_errno.h).
const (
	rvInvalidSwIfIndex = -2
	rvNoSuchEntry      = -6
)

type request = fakevpp.Request

var names = fakevpp.Names

// fakeIf is an interface of the fake VPP.
type fakeIf struct {
	kind  string
	tag   string
	tap   *tapv2.TapCreateV3
	vxlan *vxlan.VxlanAddDelTunnelV3
	mtu   uint32
	up    bool
	l2xc  *interface_types.InterfaceIndex
	l3xc  map[bool]*l3xc.L3xc
}

// fakeVPP is the shared fake VPP keeping the state of a small VPP:
// interfaces with growing sw_if_index, their tags, tunnels, WireGuard peers
// and cross-connects. Its state is read and changed under the fake's lock.
type fakeVPP struct {
	*fakevpp.VPP
	t testing.TB

	next     uint32
	ifs      map[uint32]*fakeIf
	peers    map[uint32]uint32 // peer index -> sw_if_index
	nextPeer uint32
	// onTap runs when a tap is created, e.g. to make its host side.
	onTap func(*tapv2.TapCreateV3) error
	// onTapDelete runs when a tap is deleted.
	onTapDelete func(*fakeIf)
}

func newFakeVPP(t testing.TB) *fakeVPP {
	f := &fakeVPP{t: t, next: 1, ifs: make(map[uint32]*fakeIf), peers: make(map[uint32]uint32)}
	f.VPP = fakevpp.New(t, f)
	return f
}

// Dump answers the interface and VXLAN tunnel dumps.
func (f *fakeVPP) Dump(msg api.Message) []api.Message {
	var details []api.Message
	switch m := msg.(type) {
	case *interfaces.SwInterfaceDump:
		for _, idx := range f.indexes() {
			if m.SwIfIndex == ^interface_types.InterfaceIndex(0) || uint32(m.SwIfIndex) == idx {
				i := f.ifs[idx]
				details = append(details, &interfaces.SwInterfaceDetails{SwIfIndex: interface_types.InterfaceIndex(idx),
					InterfaceName: fmt.Sprintf("%s%d", i.kind, idx), Tag: i.tag})
			}
		}
	case *vxlan.VxlanTunnelV2Dump:
		if i := f.ifs[uint32(m.SwIfIndex)]; i != nil && i.vxlan != nil {
			v := i.vxlan
			details = append(details, &vxlan.VxlanTunnelV2Details{SwIfIndex: m.SwIfIndex, Instance: uint32(m.SwIfIndex),
				SrcAddress: v.SrcAddress, DstAddress: v.DstAddress, SrcPort: v.SrcPort, DstPort: v.DstPort,
				McastSwIfIndex: v.McastSwIfIndex, DecapNextIndex: v.DecapNextIndex, Vni: v.Vni})
		}
	default:
		f.t.Errorf("fake VPP: unexpected dump %T", msg)
	}
	return details
}

func (f *fakeVPP) indexes() []uint32 {
	out := make([]uint32, 0, len(f.ifs))
	for idx := range f.ifs {
		out = append(out, idx)
	}
	sort.Slice(out, func(a, b int) bool { return out[a] < out[b] })
	return out
}

// Apply carries out msg (unless rv says it fails) and returns its reply.
func (f *fakeVPP) Apply(msg api.Message, rv int32) api.Message {
	idxOf := func(idx interface_types.InterfaceIndex) *fakeIf {
		i := f.ifs[uint32(idx)]
		if i == nil && rv == 0 {
			rv = rvInvalidSwIfIndex
		}
		return i
	}
	newIf := func(i *fakeIf) interface_types.InterfaceIndex {
		if rv != 0 {
			return 0
		}
		idx := f.next
		f.next++
		f.ifs[idx] = i
		return interface_types.InterfaceIndex(idx)
	}
	switch m := msg.(type) {
	case *tapv2.TapCreateV3:
		if rv == 0 && f.onTap != nil {
			if err := f.onTap(m); err != nil {
				f.t.Errorf("fake VPP: tap host side: %v", err)
				rv = -13 // SYSCALL_ERROR_3
			}
		}
		idx := newIf(&fakeIf{kind: "tap", tag: m.Tag, tap: m})
		return &tapv2.TapCreateV3Reply{Retval: rv, SwIfIndex: idx}
	case *tapv2.TapDeleteV2:
		if i := idxOf(m.SwIfIndex); i != nil && rv == 0 {
			if i.kind != "tap" {
				rv = rvInvalidSwIfIndex
			} else {
				if f.onTapDelete != nil {
					f.onTapDelete(i)
				}
				delete(f.ifs, uint32(m.SwIfIndex))
			}
		}
		return &tapv2.TapDeleteV2Reply{Retval: rv}
	case *interfaces.SwInterfaceTagAddDel:
		if i := idxOf(m.SwIfIndex); i != nil && rv == 0 {
			i.tag = m.Tag
		}
		return &interfaces.SwInterfaceTagAddDelReply{Retval: rv}
	case *interfaces.SwInterfaceSetRxMode:
		idxOf(m.SwIfIndex)
		return &interfaces.SwInterfaceSetRxModeReply{Retval: rv}
	case *interfaces.SwInterfaceSetMtu:
		if i := idxOf(m.SwIfIndex); i != nil && rv == 0 {
			i.mtu = m.Mtu[0]
		}
		return &interfaces.SwInterfaceSetMtuReply{Retval: rv}
	case *interfaces.SwInterfaceSetFlags:
		if i := idxOf(m.SwIfIndex); i != nil && rv == 0 {
			i.up = m.Flags&interface_types.IF_STATUS_API_FLAG_ADMIN_UP != 0
		}
		return &interfaces.SwInterfaceSetFlagsReply{Retval: rv}
	case *vlib.AddNodeNext:
		return &vlib.AddNodeNextReply{Retval: rv, NextIndex: 7}
	case *vxlan.VxlanAddDelTunnelV3:
		if m.IsAdd {
			idx := newIf(&fakeIf{kind: "vxlan", vxlan: m})
			return &vxlan.VxlanAddDelTunnelV3Reply{Retval: rv, SwIfIndex: idx}
		}
		if rv == 0 {
			rv = rvNoSuchEntry
			for idx, i := range f.ifs {
				if v := i.vxlan; v != nil && v.SrcAddress == m.SrcAddress && v.DstAddress == m.DstAddress && v.Vni == m.Vni &&
					v.SrcPort == m.SrcPort && v.DstPort == m.DstPort {
					delete(f.ifs, idx)
					rv = 0
				}
			}
		}
		return &vxlan.VxlanAddDelTunnelV3Reply{Retval: rv}
	case *wireguard.WireguardInterfaceCreate:
		idx := newIf(&fakeIf{kind: "wg"})
		return &wireguard.WireguardInterfaceCreateReply{Retval: rv, SwIfIndex: idx}
	case *wireguard.WireguardInterfaceDelete:
		if i := idxOf(m.SwIfIndex); i != nil && rv == 0 {
			delete(f.ifs, uint32(m.SwIfIndex))
			for p, idx := range f.peers {
				if idx == uint32(m.SwIfIndex) {
					delete(f.peers, p)
				}
			}
		}
		return &wireguard.WireguardInterfaceDeleteReply{Retval: rv}
	case *wireguard.WireguardPeerAdd:
		idxOf(m.Peer.SwIfIndex)
		var p uint32
		if rv == 0 {
			p = f.nextPeer
			f.nextPeer++
			f.peers[p] = uint32(m.Peer.SwIfIndex)
		}
		return &wireguard.WireguardPeerAddReply{Retval: rv, PeerIndex: p}
	case *wireguard.WireguardPeerRemove:
		if _, ok := f.peers[m.PeerIndex]; !ok && rv == 0 {
			rv = rvNoSuchEntry
		}
		if rv == 0 {
			delete(f.peers, m.PeerIndex)
		}
		return &wireguard.WireguardPeerRemoveReply{Retval: rv}
	case *l2.SwInterfaceSetL2Xconnect:
		if i := idxOf(m.RxSwIfIndex); i != nil && rv == 0 {
			i.l2xc = nil
			if m.Enable {
				tx := m.TxSwIfIndex
				i.l2xc = &tx
			}
		}
		return &l2.SwInterfaceSetL2XconnectReply{Retval: rv}
	case *l3xc.L3xcUpdate:
		if i := idxOf(m.L3xc.SwIfIndex); i != nil && rv == 0 {
			if i.l3xc == nil {
				i.l3xc = make(map[bool]*l3xc.L3xc)
			}
			x := m.L3xc
			i.l3xc[m.L3xc.IsIP6] = &x
		}
		return &l3xc.L3xcUpdateReply{Retval: rv}
	case *l3xc.L3xcDel:
		if i := idxOf(m.SwIfIndex); i != nil && rv == 0 {
			if _, ok := i.l3xc[m.IsIP6]; !ok {
				rv = rvNoSuchEntry
			}
			delete(i.l3xc, m.IsIP6)
		}
		return &l3xc.L3xcDelReply{Retval: rv}
	}
	f.t.Errorf("fake VPP: no reply for %T", msg)
	return &memclnt.ControlPingReply{}
}

// tags returns the tags of the fake's interfaces by index.
func (f *fakeVPP) tags() map[uint32]string {
	f.Lock()
	defer f.Unlock()
	out := make(map[uint32]string, len(f.ifs))
	for idx, i := range f.ifs {
		out[idx] = i.tag
	}
	return out
}

// state renders what the fake holds, for comparisons.
func (f *fakeVPP) state() string {
	f.Lock()
	defer f.Unlock()
	var b strings.Builder
	for _, idx := range f.indexes() {
		i := f.ifs[idx]
		fmt.Fprintf(&b, "%d %s mtu=%d up=%t", idx, i.kind, i.mtu, i.up)
		if i.l2xc != nil {
			fmt.Fprintf(&b, " l2xc->%d", *i.l2xc)
		}
		for _, ip6 := range []bool{false, true} {
			if x := i.l3xc[ip6]; x != nil {
				fmt.Fprintf(&b, " l3xc(ip6=%t)->%d", ip6, x.Paths[0].SwIfIndex)
			}
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "peers %d\n", len(f.peers))
	return b.String()
}

// tagHash matches the identity hash at the end of a tag: it depends on the
// inode of the test's network namespace, so renderings leave it out.
var tagHash = regexp.MustCompile(`("tag":"nsm:[^"]*:)[0-9a-f]{8}"`)

// render is the shared rendering with the identity hash of tags left out.
func render(reqs []request) string {
	return tagHash.ReplaceAllString(fakevpp.Render(reqs), `${1}<hash>"`)
}
