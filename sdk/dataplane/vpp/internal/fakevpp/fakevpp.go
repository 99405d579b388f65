// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package fakevpp

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
	"go.fd.io/govpp/binapi/memclnt"
	"go.fd.io/govpp/codec"
	"go.fd.io/govpp/core"
)

// Request is one message the fake received, decoded.
type Request struct {
	Name string
	Msg  api.Message
}

// Model is the state of the fake VPP. Its methods run under the VPP's lock.
type Model interface {
	// Dump returns the details answering a dump request.
	Dump(msg api.Message) []api.Message
	// Apply carries out msg unless rv (an injected failure) is non-zero and
	// returns its reply.
	Apply(msg api.Message, rv int32) api.Message
}

// VPP is govpp's mock adapter answering with a Model.
type VPP struct {
	*mock.VppAdapter
	t     testing.TB
	model Model
	cb    adapter.MsgCallback

	mu   sync.Mutex
	reqs []Request
	fail map[string]failure
	seen map[string]int
}

type failure struct {
	nth    int
	retval int32
	// drop carries the message out but sends no reply, as when the caller
	// stops waiting before VPP answers.
	drop bool
}

// factories is built on first use: the binapi packages register their
// messages in their init, which may run after this package's.
var factories = sync.OnceValue(func() map[string]reflect.Type {
	out := make(map[string]reflect.Type)
	for _, msgs := range api.GetRegisteredMessages() {
		for _, m := range msgs {
			out[m.GetMessageName()] = reflect.TypeOf(m).Elem()
		}
	}
	return out
})

// Message returns a new zero message of the binapi type named name, or nil
// if govpp registers no such message.
func Message(name string) api.Message {
	typ, ok := factories()[name]
	if !ok {
		return nil
	}
	return reflect.New(typ).Interface().(api.Message)
}

// New returns a fake VPP whose state is model; problems of the fake fail t.
func New(t testing.TB, model Model) *VPP {
	v := &VPP{VppAdapter: mock.NewVppAdapter(), t: t, model: model,
		fail: make(map[string]failure), seen: make(map[string]int)}
	v.MockReplyHandler(v.handle)
	return v
}

// Conn returns a govpp connection to the fake, disconnected when t ends.
func (v *VPP) Conn(t testing.TB) api.Connection {
	c, err := core.Connect(v)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Disconnect)
	return c
}

// Lock takes the lock the Model's methods run under.
func (v *VPP) Lock() { v.mu.Lock() }

// Unlock releases the lock taken by Lock.
func (v *VPP) Unlock() { v.mu.Unlock() }

// SetMsgCallback keeps the callback for the details of dumps.
func (v *VPP) SetMsgCallback(cb adapter.MsgCallback) {
	v.cb = cb
	v.VppAdapter.SetMsgCallback(cb)
}

// FailOn makes the nth (from 1) next occurrence of message name fail with
// retval.
func (v *VPP) FailOn(name string, nth int, retval int32) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.fail[name] = failure{nth: v.seen[name] + nth, retval: retval}
}

// DropReply makes the nth next occurrence of message name be carried out
// without a reply.
func (v *VPP) DropReply(name string, nth int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.fail[name] = failure{nth: v.seen[name] + nth, drop: true}
}

// Take returns the requests received since the last Take.
func (v *VPP) Take() []Request {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := v.reqs
	v.reqs = nil
	return out
}

func (v *VPP) decode(name string, data []byte) api.Message {
	msg := Message(name)
	if msg == nil {
		v.t.Errorf("fake VPP: unknown message %q", name)
		return nil
	}
	if err := codec.DefaultCodec.DecodeMsg(data, msg); err != nil {
		v.t.Errorf("fake VPP: decode %s: %v", name, err)
	}
	return msg
}

// SendMsg answers dumps here (details, then the control ping's reply goes
// through the handler) and everything else through the mock's handler.
func (v *VPP) SendMsg(clientID uint32, data []byte) error {
	name, _ := v.GetMsgNameByID(binary.BigEndian.Uint16(data[0:2]))
	if !strings.HasSuffix(name, "_dump") {
		return v.VppAdapter.SendMsg(clientID, data)
	}
	req := mock.MessageDTO{MsgName: name, ClientID: clientID, Data: data}
	msg := v.decode(name, data)
	v.mu.Lock()
	v.reqs = append(v.reqs, Request{Name: name, Msg: msg})
	details := v.model.Dump(msg)
	v.mu.Unlock()
	for _, d := range details {
		b, err := v.ReplyBytes(req, d)
		if err != nil {
			return err
		}
		id, _ := v.GetMsgID(d.GetMessageName(), d.GetCrcString())
		v.cb(id, b)
	}
	return nil
}

func (v *VPP) handle(req mock.MessageDTO) ([]byte, uint16, bool) {
	if req.MsgName == "" {
		// The mock knows its fixed IDs (control_ping) only by this lookup.
		req.MsgName, _ = v.GetMsgNameByID(req.MsgID)
	}
	var reply api.Message
	if req.MsgName == "control_ping" {
		reply = &memclnt.ControlPingReply{}
	} else {
		msg := v.decode(req.MsgName, req.Data)
		v.mu.Lock()
		v.reqs = append(v.reqs, Request{Name: req.MsgName, Msg: msg})
		v.seen[req.MsgName]++
		var (
			rv   int32
			drop bool
		)
		if fl, ok := v.fail[req.MsgName]; ok && fl.nth == v.seen[req.MsgName] {
			rv, drop = fl.retval, fl.drop
			delete(v.fail, req.MsgName)
		}
		reply = v.model.Apply(msg, rv)
		v.mu.Unlock()
		if drop {
			// The mock then sends a reply govpp does not know and drops.
			return nil, 0, false
		}
	}
	b, err := v.ReplyBytes(req, reply)
	if err != nil {
		v.t.Errorf("fake VPP: encode reply to %s: %v", req.MsgName, err)
		return nil, 0, false
	}
	id, _ := v.GetMsgID(reply.GetMessageName(), reply.GetCrcString())
	return b, id, true
}

// Names returns the message names of reqs.
func Names(reqs []Request) []string {
	out := make([]string, len(reqs))
	for i, r := range reqs {
		out[i] = r.Name
	}
	return out
}

// Of returns the decoded requests of type T, in order.
func Of[T any](reqs []Request) []T {
	var out []T
	for _, r := range reqs {
		if m, ok := r.Msg.(T); ok {
			out = append(out, m)
		}
	}
	return out
}

// Render prints requests one per line as message name and JSON fields, the
// form of the golden files.
func Render(reqs []Request) string {
	var b strings.Builder
	for _, r := range reqs {
		j, err := json.Marshal(r.Msg)
		if err != nil {
			j = []byte(err.Error())
		}
		fmt.Fprintf(&b, "%s %s\n", r.Name, j)
	}
	return b.String()
}
