// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package mechanisms_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/networkservice/mechanisms"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// log collects which elements saw which call.
type log struct{ calls []string }

func (l *log) add(s string) { l.calls = append(l.calls, s) }

// branch is a per-mechanism sub-chain element that can fail.
type branch struct {
	chain.ServerLink
	name string
	log  *log
	fail bool
}

func (b *branch) Request(ctx context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	b.log.add(b.name + " req " + req.GetConnection().GetMechanism().GetType())
	if b.fail {
		return nil, status.Errorf(codes.Unavailable, "%s broke", b.name)
	}
	return b.Next().Request(ctx, req)
}

func (b *branch) Close(ctx context.Context, conn *networkservice.Connection) (*emptypb.Empty, error) {
	b.log.add(b.name + " close")
	return b.Next().Close(ctx, conn)
}

// after is the element following the dispatcher.
type after struct{ log *log }

func (a *after) Request(_ context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	a.log.add("after req " + req.GetConnection().GetMechanism().GetType())
	return req.GetConnection(), nil
}

func (a *after) Close(context.Context, *networkservice.Connection) (*emptypb.Empty, error) {
	a.log.add("after close")
	return &emptypb.Empty{}, nil
}

// terminal is a branch without a Link: it ends the chain itself.
type terminal struct{ log *log }

func (t *terminal) Request(_ context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	t.log.add("terminal req")
	return req.GetConnection(), nil
}

func (t *terminal) Close(context.Context, *networkservice.Connection) (*emptypb.Empty, error) {
	t.log.add("terminal close")
	return &emptypb.Empty{}, nil
}

func mech(cls, typ string) *networkservice.Mechanism {
	return &networkservice.Mechanism{Cls: cls, Type: typ}
}

func TestServerDispatch(t *testing.T) {
	tests := []struct {
		name      string
		fail      []string
		selected  *networkservice.Mechanism
		prefs     []*networkservice.Mechanism
		wantMech  string
		wantCalls []string
		wantCode  codes.Code
		wantMsg   string
	}{
		{
			name:      "first supported preference",
			prefs:     []*networkservice.Mechanism{mech("LOCAL", "VFIO"), mech("LOCAL", "KERNEL"), mech("LOCAL", "MEMIF")},
			wantMech:  "KERNEL",
			wantCalls: []string{"kernel req KERNEL", "after req KERNEL"},
		},
		{
			name:      "failed preference falls back to the next",
			fail:      []string{"kernel"},
			prefs:     []*networkservice.Mechanism{mech("LOCAL", "KERNEL"), mech("LOCAL", "MEMIF")},
			wantMech:  "MEMIF",
			wantCalls: []string{"kernel req KERNEL", "memif req MEMIF", "after req MEMIF"},
		},
		{
			name:      "selected mechanism goes straight to its sub-chain",
			selected:  mech("LOCAL", "MEMIF"),
			prefs:     []*networkservice.Mechanism{mech("LOCAL", "KERNEL")},
			wantMech:  "MEMIF",
			wantCalls: []string{"memif req MEMIF", "after req MEMIF"},
		},
		{
			name:      "nil sub-chain means supported as is",
			prefs:     []*networkservice.Mechanism{mech("LOCAL", "NOOP")},
			wantMech:  "NOOP",
			wantCalls: []string{"after req NOOP"},
		},
		{
			name:      "terminal sub-chain ends the chain",
			prefs:     []*networkservice.Mechanism{mech("REMOTE", "VXLAN")},
			wantMech:  "VXLAN",
			wantCalls: []string{"terminal req"},
		},
		{
			name:     "nothing supported",
			prefs:    []*networkservice.Mechanism{mech("LOCAL", "VFIO"), mech("REMOTE", "SRV6")},
			wantCode: codes.InvalidArgument,
			wantMsg:  "no supported mechanism in preferences [LOCAL/VFIO REMOTE/SRV6]; supported: [KERNEL MEMIF NOOP VXLAN]",
		},
		{
			name:     "no preferences",
			wantCode: codes.InvalidArgument,
			wantMsg:  "no supported mechanism in preferences []",
		},
		{
			name:     "selected mechanism unsupported",
			selected: mech("LOCAL", "VFIO"),
			wantCode: codes.InvalidArgument,
			wantMsg:  "mechanism LOCAL/VFIO is not supported; supported: [KERNEL MEMIF NOOP VXLAN]",
		},
		{
			name:      "one failure keeps its own status",
			fail:      []string{"kernel"},
			prefs:     []*networkservice.Mechanism{mech("LOCAL", "KERNEL")},
			wantCalls: []string{"kernel req KERNEL"},
			wantCode:  codes.Unavailable,
			wantMsg:   "kernel broke",
		},
		{
			name:      "every failure is reported",
			fail:      []string{"kernel", "memif"},
			prefs:     []*networkservice.Mechanism{mech("LOCAL", "KERNEL"), mech("LOCAL", "MEMIF")},
			wantCalls: []string{"kernel req KERNEL", "memif req MEMIF"},
			wantCode:  codes.Unavailable,
			wantMsg:   "LOCAL/KERNEL: kernel broke; LOCAL/MEMIF: memif broke",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &log{}
			srv := chain.NewServer(mechanisms.NewServer(map[string]networkservice.NetworkServiceServer{
				"KERNEL": &branch{name: "kernel", log: l, fail: slices.Contains(tt.fail, "kernel")},
				"MEMIF":  &branch{name: "memif", log: l, fail: slices.Contains(tt.fail, "memif")},
				"NOOP":   nil,
				"VXLAN":  &terminal{log: l},
			}), &after{log: l})
			req := &networkservice.NetworkServiceRequest{
				Connection:           &networkservice.Connection{Id: "c", Mechanism: tt.selected},
				MechanismPreferences: tt.prefs,
			}
			conn, err := srv.Request(context.Background(), req)
			if status.Code(err) != tt.wantCode {
				t.Fatalf("code %s (%v), want %s", status.Code(err), err, tt.wantCode)
			}
			if err != nil && !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("error %q does not say %q", err, tt.wantMsg)
			}
			if err == nil && conn.GetMechanism().GetType() != tt.wantMech {
				t.Fatalf("mechanism %q, want %q", conn.GetMechanism().GetType(), tt.wantMech)
			}
			if !slices.Equal(l.calls, tt.wantCalls) {
				t.Fatalf("calls %q, want %q", l.calls, tt.wantCalls)
			}
		})
	}
}

func TestServerClose(t *testing.T) {
	tests := []struct {
		name string
		mech *networkservice.Mechanism
		want []string
	}{
		{name: "by mechanism", mech: mech("LOCAL", "KERNEL"), want: []string{"kernel close", "after close"}},
		{name: "no mechanism still continues", want: []string{"after close"}},
		{name: "unknown mechanism still continues", mech: mech("LOCAL", "VFIO"), want: []string{"after close"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &log{}
			srv := chain.NewServer(mechanisms.NewServer(map[string]networkservice.NetworkServiceServer{
				"KERNEL": &branch{name: "kernel", log: l},
			}), &after{log: l})
			if _, err := srv.Close(context.Background(), &networkservice.Connection{Id: "c", Mechanism: tt.mech}); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(l.calls, tt.want) {
				t.Fatalf("calls %q, want %q", l.calls, tt.want)
			}
		})
	}
}

// cbranch is a client sub-chain element that records the preferences it saw.
type cbranch struct {
	chain.ClientLink
	name string
	log  *log
	fail bool
}

func (b *cbranch) Request(ctx context.Context, req *networkservice.NetworkServiceRequest, opts ...grpc.CallOption) (*networkservice.Connection, error) {
	var offered []string
	for _, p := range req.GetMechanismPreferences() {
		offered = append(offered, p.GetType())
	}
	b.log.add(b.name + " offers " + strings.Join(offered, ","))
	if b.fail {
		return nil, status.Errorf(codes.Unavailable, "%s broke", b.name)
	}
	return b.Next().Request(ctx, req, opts...)
}

func (b *cbranch) Close(ctx context.Context, conn *networkservice.Connection, opts ...grpc.CallOption) (*emptypb.Empty, error) {
	b.log.add(b.name + " close")
	return b.Next().Close(ctx, conn, opts...)
}

type cafter struct{ log *log }

func (a *cafter) Request(_ context.Context, req *networkservice.NetworkServiceRequest, _ ...grpc.CallOption) (*networkservice.Connection, error) {
	a.log.add("after")
	conn := req.GetConnection().Clone()
	conn.Mechanism = req.GetMechanismPreferences()[0]
	return conn, nil
}

func (a *cafter) Close(context.Context, *networkservice.Connection, ...grpc.CallOption) (*emptypb.Empty, error) {
	a.log.add("after close")
	return &emptypb.Empty{}, nil
}

func TestClientDispatch(t *testing.T) {
	tests := []struct {
		name      string
		fail      bool
		selected  *networkservice.Mechanism
		prefs     []*networkservice.Mechanism
		wantCalls []string
		wantCode  codes.Code
	}{
		{
			name:      "each preference offered alone, in order",
			fail:      true,
			prefs:     []*networkservice.Mechanism{mech("LOCAL", "VFIO"), mech("LOCAL", "KERNEL"), mech("LOCAL", "MEMIF")},
			wantCalls: []string{"kernel offers KERNEL", "memif offers MEMIF", "after"},
		},
		{
			name:      "selected mechanism",
			selected:  mech("LOCAL", "KERNEL"),
			prefs:     []*networkservice.Mechanism{mech("LOCAL", "MEMIF"), mech("LOCAL", "KERNEL")},
			wantCalls: []string{"kernel offers MEMIF,KERNEL", "after"},
		},
		{
			name:     "nothing supported",
			prefs:    []*networkservice.Mechanism{mech("LOCAL", "VFIO")},
			wantCode: codes.InvalidArgument,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &log{}
			cli := chain.NewClient(mechanisms.NewClient(map[string]networkservice.NetworkServiceClient{
				"KERNEL": &cbranch{name: "kernel", log: l, fail: tt.fail},
				"MEMIF":  &cbranch{name: "memif", log: l},
			}), &cafter{log: l})
			_, err := cli.Request(context.Background(), &networkservice.NetworkServiceRequest{
				Connection:           &networkservice.Connection{Id: "c", Mechanism: tt.selected},
				MechanismPreferences: tt.prefs,
			})
			if status.Code(err) != tt.wantCode {
				t.Fatalf("code %s (%v), want %s", status.Code(err), err, tt.wantCode)
			}
			if !slices.Equal(l.calls, tt.wantCalls) {
				t.Fatalf("calls %q, want %q", l.calls, tt.wantCalls)
			}
			l.calls = nil
			if _, err := cli.Close(context.Background(), &networkservice.Connection{Id: "c", Mechanism: mech("LOCAL", "MEMIF")}); err != nil {
				t.Fatal(err)
			}
			if want := []string{"memif close", "after close"}; !slices.Equal(l.calls, want) {
				t.Fatalf("close calls %q, want %q", l.calls, want)
			}
		})
	}
}
