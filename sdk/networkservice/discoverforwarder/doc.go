// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package discoverforwarder is the nsmgr's choice of a local forwarder.
//
// Guarantees (nsm-reference §4.2):
//   - Forwarders are the endpoints registered for the forwarder service name
//     ("forwarder" unless configured) through this nsmgr (their URL contains
//     the nsmgr's URL when one is configured).
//   - Without matches on the requested network service every forwarder
//     qualifies. Otherwise the first match whose source_selector the
//     connection's labels satisfy decides; it requires the forwarder labels in
//     its metadata, or {"p2p": "true"} when it has none; values may be label
//     templates ({{.nodeName}}); a fallthrough match that selects nothing
//     passes on. Malformed selectors fail with codes.InvalidArgument.
//   - A connection sticks to the forwarder that first served it (Server
//     metadata). When the registry does not list the sticky forwarder (it
//     restarted empty and the forwarder has not registered again yet) or
//     cannot be asked, the Request goes to the URL the forwarder was reached
//     at before, so a registry restart never fails a refresh; a sticky
//     forwarder that fails (or no longer qualifies) fails the Request with
//     codes.Unavailable "forwarder %q is not available" until the client
//     reselects. RESELECT_REQUESTED drops the stickiness.
//   - Without stickiness (new connection, or an nsmgr restart) the forwarder
//     named at path[index+1] is preferred, so a restarted nsmgr keeps the
//     data path where it is; the others are tried in order after a failure.
//   - Close goes to the sticky (or path) forwarder, at its last URL when the
//     registry does not list it, and always continues the chain.
//
// Placement: in the nsmgr server chain after the endpoint chain elements,
// before connect towards the forwarder.
package discoverforwarder
