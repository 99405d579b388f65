// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package vppinit_test

import (
	"reflect"
	"testing"

	"go.fd.io/govpp/api"
	"go.fd.io/govpp/binapi/acl"
	"go.fd.io/govpp/binapi/af_packet"
	interfaces "go.fd.io/govpp/binapi/interface"
	"go.fd.io/govpp/binapi/interface_types"
	"go.fd.io/govpp/binapi/ip"
	"go.fd.io/govpp/binapi/ip_types"
	"go.fd.io/govpp/binapi/memclnt"

	"github.com/nsmesh/nsmesh/sdk/dataplane/vpp/internal/fakevpp"
)

// Retvals of the fake, as VPP's (vnet/api_errno.h).
const (
	rvNoSuchEntry     = -6
	rvAddressInUse    = -81
	rvIfAlreadyExists = -60
)

type request = fakevpp.Request

var (
	names  = fakevpp.Names
	render = fakevpp.Render
)

// fakeVPP is the shared fake VPP answering the messages of vppinit with the
// state of a small VPP: af_packet interfaces by host name, ACLs by index,
// interface addresses. Its state is read under the fake's lock.
type fakeVPP struct {
	*fakevpp.VPP
	t testing.TB

	next    uint32
	afp     map[string]uint32
	acls    map[uint32]*acl.ACLAddReplace
	nextACL uint32
	addrs   map[uint32][]ip_types.AddressWithPrefix
}

func newFakeVPP(t testing.TB) *fakeVPP {
	f := &fakeVPP{t: t, next: 1, afp: make(map[string]uint32),
		acls: make(map[uint32]*acl.ACLAddReplace), addrs: make(map[uint32][]ip_types.AddressWithPrefix)}
	f.VPP = fakevpp.New(t, f)
	return f
}

func (f *fakeVPP) Dump(msg api.Message) []api.Message {
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
		f.t.Errorf("fake VPP: unexpected dump %T", msg)
	}
	return details
}

func (f *fakeVPP) Apply(msg api.Message, rv int32) api.Message {
	if rv == 0 {
		rv = f.apply(msg)
	}
	return f.reply(msg, rv)
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

// reply builds msg's reply; an af_packet create and an ACL carry their new
// index.
func (f *fakeVPP) reply(msg api.Message, rv int32) api.Message {
	r := fakevpp.Message(msg.GetMessageName() + "_reply")
	if r == nil {
		f.t.Errorf("fake VPP: no reply for %s", msg.GetMessageName())
		return &memclnt.ControlPingReply{}
	}
	reflect.ValueOf(r).Elem().FieldByName("Retval").SetInt(int64(rv))
	if rv != 0 {
		return r
	}
	switch m := r.(type) {
	case *af_packet.AfPacketCreateV3Reply:
		m.SwIfIndex = interface_types.InterfaceIndex(f.afp[msg.(*af_packet.AfPacketCreateV3).HostIfName])
	case *acl.ACLAddReplaceReply:
		req := *msg.(*acl.ACLAddReplace)
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

type (
	afPacketCreate = af_packet.AfPacketCreateV3
	routeAddDel    = ip.IPRouteAddDel
)
