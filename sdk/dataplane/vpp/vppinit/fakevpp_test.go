// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package vppinit_test

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"go.fd.io/govpp/adapter"
	"go.fd.io/govpp/adapter/mock"
	"go.fd.io/govpp/api"
	"go.fd.io/govpp/binapi/acl"
	"go.fd.io/govpp/binapi/af_packet"
	interfaces "go.fd.io/govpp/binapi/interface"
	"go.fd.io/govpp/binapi/interface_types"
	"go.fd.io/govpp/binapi/ip"
	"go.fd.io/govpp/binapi/ip_types"
	"go.fd.io/govpp/binapi/memclnt"
	"go.fd.io/govpp/codec"
	"go.fd.io/govpp/core"
)

// Retvals of the fake, as VPP's (vnet/api_errno.h).
const (
	rvNoSuchEntry     = -6
	rvAddressInUse    = -81
	rvIfAlreadyExists = -60
)

type request struct {
	name string
	msg  api.Message
}

// fakeVPP is govpp's mock adapter answering the messages of vppinit with
// the state of a small VPP: af_packet interfaces by host name, ACLs by
// index, interface addresses. It records every request but control pings,
// and refuses the first occurrence of a message named in fail.
type fakeVPP struct {
	*mock.VppAdapter
	t  testing.TB
	cb adapter.MsgCallback

	mu      sync.Mutex
	reqs    []request
	next    uint32
	afp     map[string]uint32
	acls    map[uint32]*acl.ACLAddReplace
	nextACL uint32
	addrs   map[uint32][]ip_types.AddressWithPrefix
	fail    map[string]int32
}

func newFakeVPP(t testing.TB) *fakeVPP {
	f := &fakeVPP{VppAdapter: mock.NewVppAdapter(), t: t, next: 1, afp: make(map[string]uint32),
		acls: make(map[uint32]*acl.ACLAddReplace), addrs: make(map[uint32][]ip_types.AddressWithPrefix),
		fail: make(map[string]int32)}
	f.MockReplyHandler(f.handle)
	return f
}

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

func (f *fakeVPP) failOn(name string, rv int32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[name] = rv
}

func (f *fakeVPP) take() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.reqs
	f.reqs = nil
	return out
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

// SendMsg answers dumps itself (several details), the rest through the
// mock's handler.
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
	case *af_packet.AfPacketDump:
		for n, idx := range f.afp {
			details = append(details, &af_packet.AfPacketDetails{SwIfIndex: interface_types.InterfaceIndex(idx), HostIfName: n})
		}
	case *acl.ACLDump:
		for idx, a := range f.acls {
			details = append(details, &acl.ACLDetails{ACLIndex: idx, Tag: a.Tag, Count: a.Count, R: a.R})
		}
	case *ip.IPAddressDump:
		for _, a := range f.addrs[uint32(m.SwIfIndex)] {
			if (a.Address.Af == ip_types.ADDRESS_IP6) == m.IsIPv6 {
				details = append(details, &ip.IPAddressDetails{SwIfIndex: m.SwIfIndex, Prefix: a})
			}
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

func (f *fakeVPP) handle(req mock.MessageDTO) ([]byte, uint16, bool) {
	if req.MsgName == "" {
		req.MsgName, _ = f.GetMsgNameByID(req.MsgID)
	}
	var reply api.Message
	if req.MsgName == "control_ping" {
		reply = &memclnt.ControlPingReply{}
	} else {
		msg := f.decode(req.MsgName, req.Data)
		f.mu.Lock()
		f.reqs = append(f.reqs, request{name: req.MsgName, msg: msg})
		rv, failed := f.fail[req.MsgName]
		delete(f.fail, req.MsgName)
		if !failed {
			rv = f.apply(msg)
		}
		reply = f.reply(req.MsgName, rv)
		f.mu.Unlock()
	}
	b, err := f.ReplyBytes(req, reply)
	if err != nil {
		f.t.Errorf("fake VPP: encode reply to %s: %v", req.MsgName, err)
		return nil, 0, false
	}
	id, _ := f.GetMsgID(reply.GetMessageName(), reply.GetCrcString())
	return b, id, true
}

// apply changes the state for msg and returns the retval.
func (f *fakeVPP) apply(msg api.Message) int32 {
	switch m := msg.(type) {
	case *af_packet.AfPacketCreateV3:
		if _, ok := f.afp[m.HostIfName]; ok {
			return rvIfAlreadyExists
		}
		f.afp[m.HostIfName] = f.next
		f.next++
	case *acl.ACLAddReplace:
		if m.ACLIndex != ^uint32(0) {
			if _, ok := f.acls[m.ACLIndex]; !ok {
				return rvNoSuchEntry
			}
		}
	case *interfaces.SwInterfaceAddDelAddress:
		for _, a := range f.addrs[uint32(m.SwIfIndex)] {
			if a == m.Prefix {
				return rvAddressInUse
			}
		}
		f.addrs[uint32(m.SwIfIndex)] = append(f.addrs[uint32(m.SwIfIndex)], m.Prefix)
	}
	return 0
}

// reply builds name's reply; an af_packet create and an ACL carry their
// new index.
func (f *fakeVPP) reply(name string, rv int32) api.Message {
	typ, ok := factories[name+"_reply"]
	if !ok {
		f.t.Errorf("fake VPP: no reply for %s", name)
		return &memclnt.ControlPingReply{}
	}
	r := reflect.New(typ).Interface().(api.Message)
	reflect.ValueOf(r).Elem().FieldByName("Retval").SetInt(int64(rv))
	if rv != 0 {
		return r
	}
	last := f.reqs[len(f.reqs)-1].msg
	switch m := r.(type) {
	case *af_packet.AfPacketCreateV3Reply:
		m.SwIfIndex = interface_types.InterfaceIndex(f.afp[last.(*af_packet.AfPacketCreateV3).HostIfName])
	case *acl.ACLAddReplaceReply:
		req := *last.(*acl.ACLAddReplace)
		m.ACLIndex = req.ACLIndex
		if m.ACLIndex == ^uint32(0) {
			m.ACLIndex = f.nextACL
			f.nextACL++
		}
		req.ACLIndex = m.ACLIndex
		f.acls[m.ACLIndex] = &req
	}
	return r
}

func names(reqs []request) []string {
	out := make([]string, len(reqs))
	for i, r := range reqs {
		out[i] = r.name
	}
	return out
}

func render(reqs []request) string {
	var b strings.Builder
	for _, r := range reqs {
		j, err := json.Marshal(r.msg)
		if err != nil {
			j = []byte(err.Error())
		}
		fmt.Fprintf(&b, "%s %s\n", r.name, j)
	}
	return b.String()
}

type (
	afPacketCreate = af_packet.AfPacketCreateV3
	routeAddDel    = ip.IPRouteAddDel
)
