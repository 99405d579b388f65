// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package vppxc_test

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"go.fd.io/govpp/adapter"
	"go.fd.io/govpp/adapter/mock"
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
	"go.fd.io/govpp/codec"
	"go.fd.io/govpp/core"
)

// Retvals the fake VPP gives, as VPP does (vnet/api_errno.h).
const (
	rvInvalidSwIfIndex = -2
	rvNoSuchEntry      = -6
)

// request is one message the fake VPP received, decoded.
type request struct {
	name string
	msg  api.Message
}

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

// fakeVPP is govpp's mock adapter with a reply handler that keeps the state
// of a small VPP: interfaces with growing sw_if_index, their tags, tunnels,
// WireGuard peers and cross-connects. It records every request (control
// pings excepted) decoded with govpp's codec, and can be told to refuse the
// nth occurrence of a message with a retval. Dumps are answered by the
// adapter wrapper itself because their details are several messages.
type fakeVPP struct {
	*mock.VppAdapter
	t  testing.TB
	cb adapter.MsgCallback

	mu       sync.Mutex
	reqs     []request
	next     uint32
	ifs      map[uint32]*fakeIf
	peers    map[uint32]uint32 // peer index -> sw_if_index
	nextPeer uint32
	fail     map[string]failure
	seen     map[string]int
	// onTap runs when a tap is created, e.g. to make its host side.
	onTap func(*tapv2.TapCreateV3) error
	// onTapDelete runs when a tap is deleted.
	onTapDelete func(*fakeIf)
}

type failure struct {
	nth    int
	retval int32
	// drop carries the message out but sends no reply, as when the caller
	// stops waiting before VPP answers.
	drop bool
}

var factories = func() map[string]reflect.Type {
	out := make(map[string]reflect.Type)
	for _, msgs := range api.GetRegisteredMessages() {
		for _, m := range msgs {
			out[m.GetMessageName()] = reflect.TypeOf(m).Elem()
		}
	}
	return out
}()

func newFakeVPP(t testing.TB) *fakeVPP {
	f := &fakeVPP{VppAdapter: mock.NewVppAdapter(), t: t, next: 1, ifs: make(map[uint32]*fakeIf),
		peers: make(map[uint32]uint32), fail: make(map[string]failure), seen: make(map[string]int)}
	f.MockReplyHandler(f.handle)
	return f
}

// connect returns a govpp connection to the fake.
func (f *fakeVPP) connect(t testing.TB) api.Connection {
	c, err := core.Connect(f)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Disconnect)
	return c
}

func (f *fakeVPP) SetMsgCallback(cb adapter.MsgCallback) {
	f.cb = cb
	f.VppAdapter.SetMsgCallback(cb)
}

// failOn makes the nth (from 1) next occurrence of message name fail with
// retval.
func (f *fakeVPP) failOn(name string, nth int, retval int32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[name] = failure{nth: f.seen[name] + nth, retval: retval}
}

// dropReply makes the nth next occurrence of message name be carried out
// without a reply.
func (f *fakeVPP) dropReply(name string, nth int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[name] = failure{nth: f.seen[name] + nth, drop: true}
}

// take returns the requests received since the last take.
func (f *fakeVPP) take() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.reqs
	f.reqs = nil
	return out
}

func names(reqs []request) []string {
	out := make([]string, len(reqs))
	for i, r := range reqs {
		out[i] = r.name
	}
	return out
}

func (f *fakeVPP) decode(name string, data []byte) api.Message {
	typ, ok := factories[name]
	if !ok {
		f.t.Errorf("fake VPP: unknown message %q", name)
		return nil
	}
	msg := reflect.New(typ).Interface().(api.Message)
	if err := codec.DefaultCodec.DecodeMsg(data, msg); err != nil {
		f.t.Errorf("fake VPP: decode %s: %v", name, err)
	}
	return msg
}

// SendMsg answers dumps here (details, then the control ping's reply goes
// through the handler) and everything else through the mock's handler.
func (f *fakeVPP) SendMsg(clientID uint32, data []byte) error {
	name, _ := f.GetMsgNameByID(binary.BigEndian.Uint16(data[0:2]))
	if !strings.HasSuffix(name, "_dump") {
		return f.VppAdapter.SendMsg(clientID, data)
	}
	req := mock.MessageDTO{MsgName: name, ClientID: clientID, Data: data}
	msg := f.decode(name, data)
	f.mu.Lock()
	f.reqs = append(f.reqs, request{name: name, msg: msg})
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
		f.t.Errorf("fake VPP: unexpected dump %s", name)
	}
	f.mu.Unlock()
	for _, d := range details {
		b, err := f.ReplyBytes(req, d)
		if err != nil {
			return err
		}
		id, _ := f.GetMsgID(d.GetMessageName(), d.GetCrcString())
		f.cb(id, b)
	}
	return nil
}

func (f *fakeVPP) indexes() []uint32 {
	out := make([]uint32, 0, len(f.ifs))
	for idx := range f.ifs {
		out = append(out, idx)
	}
	sort.Slice(out, func(a, b int) bool { return out[a] < out[b] })
	return out
}

func (f *fakeVPP) handle(req mock.MessageDTO) ([]byte, uint16, bool) {
	if req.MsgName == "" {
		// The mock knows its fixed IDs (control_ping) only by this lookup.
		req.MsgName, _ = f.GetMsgNameByID(req.MsgID)
	}
	var reply api.Message
	if req.MsgName == "control_ping" {
		reply = &memclnt.ControlPingReply{}
	} else {
		msg := f.decode(req.MsgName, req.Data)
		f.mu.Lock()
		f.reqs = append(f.reqs, request{name: req.MsgName, msg: msg})
		f.seen[req.MsgName]++
		var (
			rv   int32
			drop bool
		)
		if fl, ok := f.fail[req.MsgName]; ok && fl.nth == f.seen[req.MsgName] {
			rv, drop = fl.retval, fl.drop
			delete(f.fail, req.MsgName)
		}
		reply = f.apply(msg, rv)
		f.mu.Unlock()
		if drop {
			// The mock then sends a reply govpp does not know and drops.
			return nil, 0, false
		}
	}
	b, err := f.ReplyBytes(req, reply)
	if err != nil {
		f.t.Errorf("fake VPP: encode reply to %s: %v", req.MsgName, err)
		return nil, 0, false
	}
	id, _ := f.GetMsgID(reply.GetMessageName(), reply.GetCrcString())
	return b, id, true
}

// apply carries out msg (unless rv says it fails) and returns its reply.
func (f *fakeVPP) apply(msg api.Message, rv int32) api.Message {
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
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[uint32]string, len(f.ifs))
	for idx, i := range f.ifs {
		out[idx] = i.tag
	}
	return out
}

// state renders what the fake holds, for comparisons.
func (f *fakeVPP) state() string {
	f.mu.Lock()
	defer f.mu.Unlock()
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

// render prints requests one per line as message name and JSON fields, the
// form of the golden files.
func render(reqs []request) string {
	var b strings.Builder
	for _, r := range reqs {
		j, err := json.Marshal(r.msg)
		if err != nil {
			j = []byte(err.Error())
		}
		fmt.Fprintf(&b, "%s %s\n", r.name, tagHash.ReplaceAll(j, []byte(`${1}<hash>"`)))
	}
	return b.String()
}
