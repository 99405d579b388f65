// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package networkservice_test

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/nsmesh/nsmesh/apis/networkservice"
)

// FuzzSelector feeds arbitrary wire bytes (as a peer could send) to the
// helpers that servers run on every received connection and selector: they
// must not panic, and matching must agree with a brute-force definition.
func FuzzSelector(f *testing.F) {
	connBytes, _ := proto.Marshal(pathOf(1, "nsc", "nsmgr", "fwd"))
	selBytes, _ := proto.Marshal(&networkservice.MonitorScopeSelector{PathSegments: []*networkservice.PathSegment{seg("nsmgr", "", "")}})
	f.Add(connBytes, selBytes)
	f.Add([]byte{}, []byte{})
	f.Add(connBytes, []byte{0x0a, 0x00, 0x0a, 0x00})
	f.Fuzz(func(t *testing.T, connWire, selWire []byte) {
		conn, sel := &networkservice.Connection{}, &networkservice.MonitorScopeSelector{}
		if proto.Unmarshal(connWire, conn) != nil || proto.Unmarshal(selWire, sel) != nil {
			return
		}
		conn.GetPrevPathSegment()
		conn.GetCurrentPathSegment()
		conn.GetNextPathSegment()
		_, _ = conn.GetContext().GetIpContext().SrcIPPrefixes()
		if got, want := networkservice.MatchesMonitorScopeSelector(conn, sel), bruteForceMatch(conn, sel); got != want {
			t.Fatalf("match = %v, brute force says %v\nconn %v\nsel %v", got, want, conn, sel)
		}
	})
}

// bruteForceMatch restates the rule of nsm-reference §1.3 as directly as
// possible, to cross-check the real implementation.
func bruteForceMatch(conn *networkservice.Connection, sel *networkservice.MonitorScopeSelector) bool {
	if len(sel.GetNetworkServices()) > 0 {
		found := false
		for _, s := range sel.GetNetworkServices() {
			found = found || s == conn.GetNetworkService()
		}
		if !found {
			return false
		}
	}
	want, have := sel.GetPathSegments(), conn.GetPath().GetPathSegments()
	if len(want) == 0 {
		return true
	}
	for start := range have {
		ok := start+len(want) <= len(have)
		for j := 0; ok && j < len(want); j++ {
			w, h := want[j], have[start+j]
			ok = (w.GetName() == "" || w.GetName() == h.GetName()) &&
				(w.GetId() == "" || w.GetId() == h.GetId()) &&
				(w.GetToken() == "" || w.GetToken() == h.GetToken())
		}
		if ok {
			return true
		}
	}
	return false
}
