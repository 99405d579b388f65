// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package vpp_test

import (
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"testing"
	"time"

	"go.fd.io/govpp/adapter"
	"go.fd.io/govpp/adapter/mock"
	"go.fd.io/govpp/api"
	"go.fd.io/govpp/binapi/memclnt"
	"go.fd.io/govpp/core"

	"github.com/nsmesh/nsmesh/sdk/dataplane/vpp"
)

// slowVPP is govpp's mock adapter answering every control_ping after a
// delay, from another goroutine, as a busy VPP would.
type slowVPP struct {
	*mock.VppAdapter
	delay   time.Duration
	cb      adapter.MsgCallback
	pending sync.WaitGroup
}

func (s *slowVPP) SetMsgCallback(cb adapter.MsgCallback) {
	s.cb = cb
	s.VppAdapter.SetMsgCallback(cb)
}

func (s *slowVPP) SendMsg(clientID uint32, data []byte) error {
	req := mock.MessageDTO{MsgID: binary.BigEndian.Uint16(data[0:2]), ClientID: clientID, Data: data}
	req.MsgName, _ = s.GetMsgNameByID(req.MsgID)
	reply := &memclnt.ControlPingReply{}
	b, err := s.ReplyBytes(req, reply)
	if err != nil {
		return err
	}
	id, err := s.GetMsgID(reply.GetMessageName(), reply.GetCrcString())
	if err != nil {
		return err
	}
	s.pending.Add(1)
	time.AfterFunc(s.delay, func() {
		defer s.pending.Done()
		s.cb(id, b)
	})
	return nil
}

func connectSlow(t *testing.T, delay time.Duration) *core.Connection {
	t.Helper()
	a := &slowVPP{VppAdapter: mock.NewVppAdapter(), delay: delay}
	c, err := core.Connect(a)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a.pending.Wait()
		c.Disconnect()
	})
	return c
}

func TestMinTimeout(t *testing.T) {
	const least = 2 * time.Second
	tests := []struct {
		name string
		// wrap applies the minimum timeout; without it the call must fail,
		// which shows the case exercises the guarantee.
		wrap       bool
		replyAfter time.Duration
		ctx        func() (context.Context, context.CancelFunc)
		stream     bool
		wantErr    error
		// within bounds how long the call may take.
		within time.Duration
	}{
		{name: "near deadline is extended", wrap: true, replyAfter: 200 * time.Millisecond,
			ctx: deadlineIn(30 * time.Millisecond), within: least},
		{name: "near deadline fails without the wrapper", replyAfter: 200 * time.Millisecond,
			ctx: deadlineIn(30 * time.Millisecond), wantErr: context.DeadlineExceeded, within: least},
		{name: "past deadline is extended", wrap: true, replyAfter: 100 * time.Millisecond,
			ctx: deadlineIn(-time.Second), within: least},
		{name: "stream with near deadline is extended", wrap: true, stream: true, replyAfter: 200 * time.Millisecond,
			ctx: deadlineIn(30 * time.Millisecond), within: least},
		{name: "cancel still cancels", wrap: true, replyAfter: 1500 * time.Millisecond,
			ctx: cancelIn(50 * time.Millisecond), wantErr: context.Canceled, within: 500 * time.Millisecond},
		{name: "stream cancel still cancels", wrap: true, stream: true, replyAfter: 1500 * time.Millisecond,
			ctx: cancelIn(50 * time.Millisecond), wantErr: context.Canceled, within: 500 * time.Millisecond},
		{name: "cancelled before the call", wrap: true, replyAfter: 1500 * time.Millisecond,
			ctx: cancelIn(0), wantErr: context.Canceled, within: 500 * time.Millisecond},
		{name: "minimum is not a maximum", wrap: true, replyAfter: 2500 * time.Millisecond,
			ctx: deadlineIn(2 * time.Second), wantErr: context.DeadlineExceeded, within: 2400 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var conn api.Connection = connectSlow(t, tt.replyAfter)
			if tt.wrap {
				conn = vpp.WithMinTimeout(conn, least)
			}
			ctx, cancel := tt.ctx()
			defer cancel()
			start := time.Now()
			var err error
			if tt.stream {
				err = pingStream(ctx, conn)
			} else {
				err = conn.Invoke(ctx, &memclnt.ControlPing{}, &memclnt.ControlPingReply{})
			}
			if d := time.Since(start); d > tt.within {
				t.Errorf("call took %s, want at most %s", d, tt.within)
			}
			if !errors.Is(err, tt.wantErr) || (err != nil) != (tt.wantErr != nil) {
				t.Fatalf("call = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func pingStream(ctx context.Context, conn api.Connection) error {
	s, err := conn.NewStream(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = s.Close() }()
	if err := s.SendMsg(&memclnt.ControlPing{}); err != nil {
		return err
	}
	_, err = s.RecvMsg()
	return err
}

func deadlineIn(d time.Duration) func() (context.Context, context.CancelFunc) {
	return func() (context.Context, context.CancelFunc) {
		return context.WithDeadline(context.Background(), time.Now().Add(d))
	}
}

// cancelIn returns a context cancelled after d (at once for 0) whose
// deadline, 1 s away, is nearer than the minimum timeout: the call is
// extended, and only the cancellation can end it before the reply.
func cancelIn(d time.Duration) func() (context.Context, context.CancelFunc) {
	return func() (context.Context, context.CancelFunc) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if d == 0 {
			cancel()
		} else {
			time.AfterFunc(d, cancel)
		}
		return ctx, cancel
	}
}

// recordingConn is an api.Connection that only records the context of its
// calls.
type recordingConn struct {
	api.Connection
	got context.Context
}

func (r *recordingConn) Invoke(ctx context.Context, _, _ api.Message) error {
	r.got = ctx
	return nil
}

type ctxKey struct{}

func TestMinTimeoutContext(t *testing.T) {
	const least = time.Minute
	base := context.WithValue(context.Background(), ctxKey{}, "v")
	tests := []struct {
		name     string
		deadline time.Duration // 0: none
		wantSame bool
	}{
		{name: "no deadline is kept", wantSame: true},
		{name: "far deadline is kept", deadline: 2 * least, wantSame: true},
		{name: "near deadline is replaced", deadline: time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := base
			if tt.deadline != 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(base, tt.deadline)
				defer cancel()
			}
			rec := &recordingConn{}
			start := time.Now()
			if err := vpp.WithMinTimeout(rec, least).Invoke(ctx, nil, nil); err != nil {
				t.Fatal(err)
			}
			if (rec.got == ctx) != tt.wantSame {
				t.Fatalf("context passed through unchanged = %v, want %v", rec.got == ctx, tt.wantSame)
			}
			if rec.got.Value(ctxKey{}) != "v" {
				t.Error("the caller's values are lost")
			}
			if !tt.wantSame {
				d, ok := rec.got.Deadline()
				if !ok || d.Before(start.Add(least)) || d.After(time.Now().Add(least)) {
					t.Errorf("deadline %v, want %s after the call", d, least)
				}
				if rec.got.Err() == nil {
					t.Error("the extended context outlives the call")
				}
			}
		})
	}
	if vpp.WithMinTimeout(&recordingConn{}, 0) == nil {
		t.Error("a zero minimum must return the connection unchanged")
	}
}
