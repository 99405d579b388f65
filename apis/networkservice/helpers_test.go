// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package networkservice_test

import (
	"math"
	"net/netip"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/nsmesh/nsmesh/apis/networkservice"
)

func pathOf(index uint32, names ...string) *networkservice.Connection {
	p := &networkservice.Path{Index: index}
	for _, n := range names {
		p.PathSegments = append(p.PathSegments, &networkservice.PathSegment{Name: n, Id: n + "-id"})
	}
	return &networkservice.Connection{Path: p}
}

func TestPathSegments(t *testing.T) {
	name := func(s *networkservice.PathSegment) string {
		if s == nil {
			return "<nil>"
		}
		return s.GetName()
	}
	for _, tc := range []struct {
		desc                string
		conn                *networkservice.Connection
		prev, current, next string
	}{
		{"nil connection", nil, "<nil>", "<nil>", "<nil>"},
		{"no path", &networkservice.Connection{}, "<nil>", "<nil>", "<nil>"},
		{"empty path", pathOf(0), "<nil>", "<nil>", "<nil>"},
		{"single segment", pathOf(0, "nsc"), "<nil>", "nsc", "<nil>"},
		{"first of three", pathOf(0, "nsc", "nsmgr", "fwd"), "<nil>", "nsc", "nsmgr"},
		{"middle of three", pathOf(1, "nsc", "nsmgr", "fwd"), "nsc", "nsmgr", "fwd"},
		{"last of three", pathOf(2, "nsc", "nsmgr", "fwd"), "nsmgr", "fwd", "<nil>"},
		{"index one past the end", pathOf(3, "nsc", "nsmgr", "fwd"), "fwd", "<nil>", "<nil>"},
		{"index far past the end", pathOf(10, "nsc", "nsmgr"), "<nil>", "<nil>", "<nil>"},
		{"max index", pathOf(math.MaxUint32, "nsc"), "<nil>", "<nil>", "<nil>"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			if got := name(tc.conn.GetPrevPathSegment()); got != tc.prev {
				t.Errorf("prev = %s, want %s", got, tc.prev)
			}
			if got := name(tc.conn.GetCurrentPathSegment()); got != tc.current {
				t.Errorf("current = %s, want %s", got, tc.current)
			}
			if got := name(tc.conn.GetNextPathSegment()); got != tc.next {
				t.Errorf("next = %s, want %s", got, tc.next)
			}
		})
	}
}

func TestCloneIsDeep(t *testing.T) {
	orig := pathOf(1, "nsc", "nsmgr")
	orig.Labels = map[string]string{"app": "web"}
	orig.Mechanism = &networkservice.Mechanism{Type: "KERNEL", Parameters: map[string]string{"name": "a"}}

	c := orig.Clone()
	c.Labels["app"] = "changed"
	c.Path.PathSegments[0].Name = "changed"
	c.Mechanism.Parameters["name"] = "changed"
	if orig.Labels["app"] != "web" || orig.Path.PathSegments[0].Name != "nsc" || orig.Mechanism.Parameters["name"] != "a" {
		t.Fatalf("mutating the clone changed the original: %v", orig)
	}

	req := &networkservice.NetworkServiceRequest{Connection: orig, MechanismPreferences: []*networkservice.Mechanism{orig.Mechanism}}
	rc := req.Clone()
	if !proto.Equal(rc, req) || rc.Connection == req.Connection || rc.MechanismPreferences[0] == req.MechanismPreferences[0] {
		t.Fatal("request clone is not a deep copy")
	}
	if p := orig.Path.Clone(); !proto.Equal(p, orig.Path) || p == orig.Path {
		t.Fatal("path clone is not a deep copy")
	}
	if m := orig.Mechanism.Clone(); !proto.Equal(m, orig.Mechanism) || m == orig.Mechanism {
		t.Fatal("mechanism clone is not a deep copy")
	}
}

func TestCloneNil(t *testing.T) {
	if (*networkservice.Connection)(nil).Clone() != nil ||
		(*networkservice.NetworkServiceRequest)(nil).Clone() != nil ||
		(*networkservice.Path)(nil).Clone() != nil ||
		(*networkservice.PathSegment)(nil).Clone() != nil ||
		(*networkservice.Mechanism)(nil).Clone() != nil ||
		(*networkservice.ConnectionContext)(nil).Clone() != nil {
		t.Fatal("cloning nil must give nil")
	}
}

func TestRequestConnection(t *testing.T) {
	var nilReq *networkservice.NetworkServiceRequest
	if nilReq.GetRequestConnection() != nil || nilReq.SetRequestConnection(&networkservice.Connection{}) != nil {
		t.Fatal("nil request must stay nil")
	}
	conn := &networkservice.Connection{Id: "x"}
	req := (&networkservice.NetworkServiceRequest{}).SetRequestConnection(conn)
	if req.GetRequestConnection() != conn {
		t.Fatal("SetRequestConnection did not store the connection")
	}
}

func TestIsRemote(t *testing.T) {
	for cls, want := range map[string]bool{"REMOTE": true, "LOCAL": false, "": false} {
		c := &networkservice.Connection{Mechanism: &networkservice.Mechanism{Cls: cls}}
		if c.IsRemote() != want {
			t.Errorf("cls %q: IsRemote = %v", cls, !want)
		}
	}
	if (*networkservice.Connection)(nil).IsRemote() {
		t.Error("nil connection is not remote")
	}
}

func TestIPContextPrefixes(t *testing.T) {
	ctx := &networkservice.IPContext{SrcIpAddrs: []string{"10.0.0.1/32", "fd00::1/64"}, DstIpAddrs: []string{"10.0.0.2"}}
	src, err := ctx.SrcIPPrefixes()
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.1/32"), netip.MustParsePrefix("fd00::1/64")}
	if !slices.Equal(src, want) {
		t.Errorf("src = %v, want %v", src, want)
	}
	if _, err := ctx.DstIPPrefixes(); err == nil {
		t.Error("an address without a prefix length must be an error")
	}
	if got, err := (*networkservice.IPContext)(nil).SrcIPPrefixes(); got != nil || err != nil {
		t.Errorf("nil context: %v, %v", got, err)
	}
	if p, err := (&networkservice.Route{Prefix: "10.0.0.0/8"}).ParsePrefix(); err != nil || p != netip.MustParsePrefix("10.0.0.0/8") {
		t.Errorf("route prefix: %v, %v", p, err)
	}
	if _, err := (&networkservice.Route{Prefix: "nonsense"}).ParsePrefix(); err == nil {
		t.Error("bad route prefix must be an error")
	}
}
