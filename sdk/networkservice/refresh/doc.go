// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package refresh keeps a client's connection alive by re-requesting it
// before the path's tokens expire.
//
// Guarantees (nsm-reference §4.4):
//   - After each successful Request a refresh is scheduled at d × scale,
//     where d is the time until the earliest expires of any path segment and
//     scale is 1/3 for a one-segment path, else 0.2 + 0.2 × index / len (the
//     originating client, index 0, refreshes at a fifth of the lifetime).
//   - The refresh is a begin event (begin.FromContext(ctx).Request()), so it
//     is serialised with the caller's own Requests and Closes and re-runs the
//     whole chain after begin, with the last Request's context values.
//   - A failed refresh is retried every retry interval (200 ms by default,
//     ±20% jitter) until one succeeds or the connection is closed; a refresh
//     that succeeds schedules the next one.
//   - A path without expiry times is not refreshed.
//   - Close, and the end of the chain's context, cancel every pending
//     refresh and retry; no goroutine waits in between.
//
// Placement: in a client chain right after begin. Passthrough hops (nsmgr,
// forwarder) leave it out ("WithoutRefresh"): the originating client drives
// refresh end to end.
package refresh
