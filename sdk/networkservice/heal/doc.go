// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package heal keeps an originating client's connection alive when parts of
// the mesh die: it watches the connection and, when it breaks, requests it
// again until the mesh serves it (nsm-reference §4.5).
//
// Guarantees:
//   - After each successful Request, heal watches the connection through
//     MonitorConnections on the conn dial keeps to the next hop (the local
//     nsmgr), selecting its own path segment {id, name}. One watch per
//     connection; a refresh on the same conn keeps it.
//   - With a liveness check (WithLivenessCheck), the data plane is checked
//     every interval (200 ms by default), each check bounded by a timeout
//     (100 ms by default).
//   - The control plane counts as broken when the monitor stream ends for
//     any reason but our own cancellation, when the first snapshot does not
//     hold the connection (the next hop restarted and forgot it), or when an
//     event shows it DOWN or deleted.
//   - A broken control plane over a live data plane (the check passes once
//     more) is healed by a plain re-Request of the same path and endpoint, so
//     traffic is not disturbed and restarted hops rebuild their state from it.
//     A dead data plane, or a broken control plane without a liveness check,
//     is healed by a reselect (begin.WithReselect): the old path is closed
//     best effort and another forwarder or endpoint may be chosen. While
//     re-Requests fail, the data plane is checked again before each try and
//     heal switches to reselect as soon as it is dead.
//   - Heal requests are begin events, serialised with the caller's calls. A
//     failed one is tried again after a jittered pause that doubles from
//     WithBackoff's minimum to its maximum (100 ms to 2 s), so a dead mesh is
//     not hammered, until one succeeds, the connection is closed or the
//     constructor's context ends. Before each try, the gRPC connection's own
//     reconnect backoff is reset so that a restarted next hop is dialled at
//     once. Any successful Request (a refresh, the caller's) ends the heal.
//   - Close, and the end of the constructor's context, stop the watch and
//     any heal in progress; no goroutine of the connection outlives Close.
//
// Placement: in an originating client's chain after begin and refresh and
// before dial (client.WithHeal puts it there). It needs begin's events and
// dial's conn; without them it only passes calls on. Passthrough hops (nsmgr,
// forwarder, passthrough endpoints) must not use it: the originating client
// heals the whole path, their monitor relays report breaks upstream.
package heal
