// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package networkservice

import "slices"

// MatchesMonitorScopeSelector reports whether conn is in the scope of sel, the
// rule every MonitorConnection server applies before sending a connection:
//
//   - a nil connection never matches; a nil or empty selector matches every
//     other connection;
//   - when sel.network_services is set, conn.network_service must be one of
//     them;
//   - when sel.path_segments is set, it must occur as a contiguous run of
//     conn.path.path_segments, where each selector segment's name, id and
//     token match when empty (wildcard) or equal.
func MatchesMonitorScopeSelector(conn *Connection, sel *MonitorScopeSelector) bool {
	if conn == nil {
		return false
	}
	if services := sel.GetNetworkServices(); len(services) > 0 && !slices.Contains(services, conn.GetNetworkService()) {
		return false
	}
	want := sel.GetPathSegments()
	if len(want) == 0 {
		return true
	}
	have := conn.GetPath().GetPathSegments()
	for start := 0; start+len(want) <= len(have); start++ {
		if segmentsMatch(have[start:start+len(want)], want) {
			return true
		}
	}
	return false
}

// MatchesMonitorScopeSelector is the method form of the package function,
// kept because upstream callers use it.
func (x *Connection) MatchesMonitorScopeSelector(sel *MonitorScopeSelector) bool {
	return MatchesMonitorScopeSelector(x, sel)
}

// FilterConnections returns the connections of m that match sel, keyed as in
// m; nil entries are dropped. m is not modified.
func FilterConnections(m map[string]*Connection, sel *MonitorScopeSelector) map[string]*Connection {
	out := make(map[string]*Connection, len(m))
	for k, conn := range m {
		if MatchesMonitorScopeSelector(conn, sel) {
			out[k] = conn
		}
	}
	return out
}

func segmentsMatch(have, want []*PathSegment) bool {
	for i, w := range want {
		h := have[i]
		if !fieldMatches(h.GetName(), w.GetName()) ||
			!fieldMatches(h.GetId(), w.GetId()) ||
			!fieldMatches(h.GetToken(), w.GetToken()) {
			return false
		}
	}
	return true
}

// fieldMatches treats an empty selector field as a wildcard.
func fieldMatches(have, want string) bool {
	return want == "" || have == want
}
