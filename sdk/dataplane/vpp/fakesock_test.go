// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package vpp_test

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"go.fd.io/govpp/api"
	"go.fd.io/govpp/binapi/memclnt"
	"go.fd.io/govpp/codec"
)

// fakeSocket is the server side of VPP's socket API, reduced to what a
// govpp client needs: the client registration (sockclnt_create with its
// message table), control_ping and sockclnt_delete. It is real enough that
// Dial runs govpp's socketclient unchanged against it.
type fakeSocket struct {
	t     testing.TB
	ln    *net.UnixListener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn
	pings atomic.Int32
}

// Message IDs of the fake's table (sockclnt_create is fixed at 15 by the
// protocol).
const (
	idSockclntCreate      = 15
	idSockclntCreateReply = 16
	idControlPing         = 100
	idControlPingReply    = 101
	idSockclntDelete      = 102
	idSockclntDeleteReply = 103
)

func listenFakeSocket(t testing.TB, path string) *fakeSocket {
	t.Helper()
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeSocket{t: t, ln: ln}
	f.wg.Add(1)
	go f.accept()
	t.Cleanup(f.close)
	return f
}

func (f *fakeSocket) close() {
	_ = f.ln.Close()
	f.mu.Lock()
	for _, c := range f.conns {
		_ = c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

func (f *fakeSocket) accept() {
	defer f.wg.Done()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		f.conns = append(f.conns, c)
		f.mu.Unlock()
		f.wg.Add(1)
		go f.serve(c)
	}
}

func entry(m api.Message, id uint16) memclnt.MessageTableEntry {
	return memclnt.MessageTableEntry{Index: id, Name: m.GetMessageName() + "_" + m.GetCrcString()}
}

func (f *fakeSocket) serve(c net.Conn) {
	defer f.wg.Done()
	header := make([]byte, 16)
	for {
		if _, err := io.ReadFull(c, header); err != nil {
			return
		}
		data := make([]byte, binary.BigEndian.Uint32(header[8:12]))
		if _, err := io.ReadFull(c, data); err != nil {
			return
		}
		var (
			reply api.Message
			id    uint16
		)
		switch binary.BigEndian.Uint16(data[0:2]) {
		case idSockclntCreate:
			reply, id = &memclnt.SockclntCreateReply{Index: 7, MessageTable: []memclnt.MessageTableEntry{
				entry(&memclnt.ControlPing{}, idControlPing),
				entry(&memclnt.ControlPingReply{}, idControlPingReply),
				entry(&memclnt.SockclntDelete{}, idSockclntDelete),
				entry(&memclnt.SockclntDeleteReply{}, idSockclntDeleteReply),
			}}, idSockclntCreateReply
		case idControlPing:
			f.pings.Add(1)
			reply, id = &memclnt.ControlPingReply{}, idControlPingReply
		case idSockclntDelete:
			reply, id = &memclnt.SockclntDeleteReply{}, idSockclntDeleteReply
		default:
			continue
		}
		out, err := codec.DefaultCodec.EncodeMsg(reply, id)
		if err != nil {
			f.t.Error(err)
			return
		}
		if len(data) >= 10 {
			// A reply's context (bytes 2-6) is the request's (bytes 6-10).
			copy(out[2:6], data[6:10])
		}
		binary.BigEndian.PutUint32(header[8:12], uint32(len(out)))
		if _, err := c.Write(append(append([]byte(nil), header...), out...)); err != nil && !errors.Is(err, net.ErrClosed) {
			return
		}
	}
}
