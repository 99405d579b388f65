// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package networkservice_test

import (
	"maps"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/nsmesh/nsmesh/apis/networkservice"
)

func seg(name, id, token string) *networkservice.PathSegment {
	return &networkservice.PathSegment{Name: name, Id: id, Token: token}
}

func TestMatchesMonitorScopeSelector(t *testing.T) {
	conn := &networkservice.Connection{
		NetworkService: "red",
		Path: &networkservice.Path{Index: 1, PathSegments: []*networkservice.PathSegment{
			seg("nsc", "id0", "t0"), seg("nsmgr", "id1", "t1"), seg("fwd", "id2", "t2"), seg("nse", "id3", "t3"),
		}},
	}
	sel := func(services []string, segs ...*networkservice.PathSegment) *networkservice.MonitorScopeSelector {
		return &networkservice.MonitorScopeSelector{PathSegments: segs, NetworkServices: services}
	}
	for _, tc := range []struct {
		desc string
		conn *networkservice.Connection
		sel  *networkservice.MonitorScopeSelector
		want bool
	}{
		{"nil selector matches", conn, nil, true},
		{"empty selector matches", conn, sel(nil), true},
		{"empty selector matches an empty connection", &networkservice.Connection{}, sel(nil), true},
		{"nil connection never matches", nil, sel(nil), false},
		{"service in list", conn, sel([]string{"blue", "red"}), true},
		{"service not in list", conn, sel([]string{"blue"}), false},
		{"one segment by name", conn, sel(nil, seg("fwd", "", "")), true},
		{"one segment by id", conn, sel(nil, seg("", "id3", "")), true},
		{"one segment by token", conn, sel(nil, seg("", "", "t0")), true},
		{"all fields must match", conn, sel(nil, seg("fwd", "id1", "")), false},
		{"all-wildcard segment matches any non-empty path", conn, sel(nil, seg("", "", "")), true},
		{"all-wildcard segment needs a segment", &networkservice.Connection{}, sel(nil, seg("", "", "")), false},
		{"contiguous run", conn, sel(nil, seg("nsmgr", "id1", ""), seg("fwd", "", "t2")), true},
		{"run at the start", conn, sel(nil, seg("nsc", "", ""), seg("nsmgr", "", "")), true},
		{"run at the end", conn, sel(nil, seg("fwd", "", ""), seg("nse", "", "")), true},
		{"whole path", conn, sel(nil, seg("nsc", "", ""), seg("nsmgr", "", ""), seg("fwd", "", ""), seg("nse", "", "")), true},
		{"gap is not contiguous", conn, sel(nil, seg("nsc", "", ""), seg("fwd", "", "")), false},
		{"wrong order", conn, sel(nil, seg("fwd", "", ""), seg("nsmgr", "", "")), false},
		{"longer than path", conn, sel(nil, seg("", "", ""), seg("", "", ""), seg("", "", ""), seg("", "", ""), seg("", "", "")), false},
		{"run past the end", conn, sel(nil, seg("nse", "", ""), seg("", "", "")), false},
		{"segment and service both match", conn, sel([]string{"red"}, seg("nsmgr", "", "")), true},
		{"segment matches, service does not", conn, sel([]string{"blue"}, seg("nsmgr", "", "")), false},
		{"service matches, segment does not", conn, sel([]string{"red"}, seg("other", "", "")), false},
		{"nil segment in selector is a wildcard", conn, sel(nil, nil, seg("nsmgr", "", "")), true},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			if got := networkservice.MatchesMonitorScopeSelector(tc.conn, tc.sel); got != tc.want {
				t.Errorf("MatchesMonitorScopeSelector = %v, want %v", got, tc.want)
			}
			if got := tc.conn.MatchesMonitorScopeSelector(tc.sel); got != tc.want {
				t.Errorf("method form = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFilterConnections(t *testing.T) {
	in := map[string]*networkservice.Connection{
		"a": {NetworkService: "red"},
		"b": {NetworkService: "blue"},
		"c": nil,
		"d": {NetworkService: "red", Id: "d"},
	}
	before := maps.Clone(in)
	got := networkservice.FilterConnections(in, &networkservice.MonitorScopeSelector{NetworkServices: []string{"red"}})
	if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, []string{"a", "d"}) {
		t.Errorf("filtered keys %v, want [a d]", keys)
	}
	if !maps.EqualFunc(in, before, func(a, b *networkservice.Connection) bool { return proto.Equal(a, b) }) || len(in) != 4 {
		t.Error("FilterConnections modified its input")
	}
}
