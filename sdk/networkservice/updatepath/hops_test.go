// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package updatepath_test

import (
	"context"
	"fmt"
	"testing"

	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/networkservice/updatepath"
)

// tap records the id and index each call has at its place in a chain.
type tap struct {
	chain.ServerLink
	seen []string
}

func (t *tap) note(c *networkservice.Connection) {
	t.seen = append(t.seen, fmt.Sprintf("%d/%s", c.GetPath().GetIndex(), c.GetId()))
}

func (t *tap) Request(ctx context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	t.note(req.GetConnection())
	return t.Next().Request(ctx, req)
}

func (t *tap) Close(ctx context.Context, c *networkservice.Connection) (*emptypb.Empty, error) {
	t.note(c)
	return t.Next().Close(ctx, c)
}

// toClient ends a server chain by handing the call to a client chain, as the
// connect element of a passthrough does.
type toClient struct {
	c networkservice.NetworkServiceClient
}

func (s *toClient) Request(ctx context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	return s.c.Request(ctx, req)
}

func (s *toClient) Close(ctx context.Context, c *networkservice.Connection) (*emptypb.Empty, error) {
	return s.c.Close(ctx, c)
}

// mesh builds NSC → passthroughs... → NSE, each hop a server chain whose
// client has the server's name, joined by wires.
func mesh(passthroughs ...string) (networkservice.NetworkServiceClient, map[string]*tap, *recorder) {
	taps := map[string]*tap{"nse": {}}
	rec := &recorder{}
	next := chain.NewServer(updatepath.NewServer("nse"), taps["nse"], rec)
	for i := len(passthroughs) - 1; i >= 0; i-- {
		name := passthroughs[i]
		taps[name] = &tap{}
		next = chain.NewServer(updatepath.NewServer(name), taps[name],
			&toClient{c: chain.NewClient(updatepath.NewClient(name), &wire{srv: next})})
	}
	return chain.NewClient(updatepath.NewClient("nsc"), &wire{srv: next}), taps, rec
}

func TestHops(t *testing.T) {
	tests := []struct {
		name  string
		hops  []string
		wantN int
	}{
		{name: "local", hops: []string{"nsmgr", "fwd"}, wantN: 4},
		{name: "remote", hops: []string{"nsmgr-1", "fwd-1", "nsmgr-2", "fwd-2"}, wantN: 6},
		{name: "direct", wantN: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nsc, taps, rec := mesh(tt.hops...)
			ctx := context.Background()
			got, err := nsc.Request(ctx, &networkservice.NetworkServiceRequest{Connection: &networkservice.Connection{}})
			if err != nil {
				t.Fatal(err)
			}
			names := append(append([]string{"nsc"}, tt.hops...), "nse")
			segs := got.GetPath().GetPathSegments()
			if len(segs) != tt.wantN {
				t.Fatalf("path has %d segments, want %d: %v", len(segs), tt.wantN, got.GetPath())
			}
			ids := map[string]bool{}
			for i, s := range segs {
				if s.GetName() != names[i] {
					t.Errorf("segment %d is %q, want %q", i, s.GetName(), names[i])
				}
				if ids[s.GetId()] {
					t.Errorf("segment %d id %q repeats", i, s.GetId())
				}
				ids[s.GetId()] = true
			}
			if got.GetPath().GetIndex() != 0 || got.GetId() != segs[0].GetId() {
				t.Errorf("NSC got index %d id %q, want 0 and %q", got.GetPath().GetIndex(), got.GetId(), segs[0].GetId())
			}
			for i, n := range names[1:] {
				want := fmt.Sprintf("%d/%s", i+1, segs[i+1].GetId())
				if s := taps[n].seen; len(s) != 1 || s[0] != want {
					t.Errorf("%s saw %v, want [%s]", n, s, want)
				}
			}

			// Refresh with what the NSC got back: same ids everywhere.
			again, err := nsc.Request(ctx, &networkservice.NetworkServiceRequest{Connection: got.Clone()})
			if err != nil {
				t.Fatal(err)
			}
			if len(again.GetPath().GetPathSegments()) != tt.wantN || again.GetId() != got.GetId() {
				t.Fatalf("refresh returned %v", again)
			}
			for i, s := range again.GetPath().GetPathSegments() {
				if s.GetId() != segs[i].GetId() {
					t.Errorf("refresh changed segment %d id %q -> %q", i, segs[i].GetId(), s.GetId())
				}
			}
			if rec.requests[1].GetId() != segs[len(segs)-1].GetId() {
				t.Errorf("NSE saw id %q on refresh, want %q", rec.requests[1].GetId(), segs[len(segs)-1].GetId())
			}

			// Close reaches the NSE with its own segment.
			if _, err := nsc.Close(ctx, again); err != nil {
				t.Fatal(err)
			}
			if len(rec.closes) != 1 {
				t.Fatalf("NSE saw %d closes", len(rec.closes))
			}
			last := rec.closes[0]
			if last.GetId() != segs[len(segs)-1].GetId() || int(last.GetPath().GetIndex()) != tt.wantN-1 {
				t.Errorf("NSE close saw index %d id %q", last.GetPath().GetIndex(), last.GetId())
			}
		})
	}
}

// A reselected path through another forwarder replaces the old forwarder's
// segment instead of keeping its id.
func TestHopsReplaceForeignSegment(t *testing.T) {
	nsc, _, _ := mesh("nsmgr", "fwd-a")
	got, err := nsc.Request(context.Background(), &networkservice.NetworkServiceRequest{Connection: &networkservice.Connection{}})
	if err != nil {
		t.Fatal(err)
	}
	other, _, rec := mesh("nsmgr", "fwd-b")
	again, err := other.Request(context.Background(), &networkservice.NetworkServiceRequest{Connection: got.Clone()})
	if err != nil {
		t.Fatal(err)
	}
	old, now := got.GetPath().GetPathSegments(), again.GetPath().GetPathSegments()
	if now[0].GetId() != old[0].GetId() || now[1].GetId() != old[1].GetId() {
		t.Error("NSC and nsmgr segments must keep their ids")
	}
	if now[2].GetName() != "fwd-b" || now[2].GetId() == old[2].GetId() {
		t.Errorf("forwarder segment %v, want fwd-b with a new id", now[2])
	}
	if now[3].GetId() != old[3].GetId() || rec.requests[0].GetId() != old[3].GetId() {
		t.Error("the NSE segment keeps its name and so its id")
	}
}

// A client that lost its state (a restarted process) and requests its fixed
// connection id again reaches the segments of its first Request at every
// hop, so each hop sees the connection it already holds.
func TestFreshPathReachesSameSegments(t *testing.T) {
	nsc, _, rec := mesh("nsmgr-1", "fwd-1", "nsmgr-2", "fwd-2")
	ctx := context.Background()
	first, err := nsc.Request(ctx, &networkservice.NetworkServiceRequest{Connection: &networkservice.Connection{Id: "nsc-0"}})
	if err != nil {
		t.Fatal(err)
	}
	again, err := nsc.Request(ctx, &networkservice.NetworkServiceRequest{Connection: &networkservice.Connection{Id: "nsc-0"}})
	if err != nil {
		t.Fatal(err)
	}
	a, b := first.GetPath().GetPathSegments(), again.GetPath().GetPathSegments()
	if len(a) != 6 || len(b) != 6 {
		t.Fatalf("paths of %d and %d segments, want 6", len(a), len(b))
	}
	for i := range a {
		if a[i].GetId() != b[i].GetId() {
			t.Errorf("segment %d (%s): %q, then %q", i, a[i].GetName(), a[i].GetId(), b[i].GetId())
		}
	}
	if rec.requests[0].GetId() != rec.requests[1].GetId() {
		t.Errorf("the NSE saw %q, then %q", rec.requests[0].GetId(), rec.requests[1].GetId())
	}
}
