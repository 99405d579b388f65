// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package dial owns the gRPC connection from this hop to the next one, per
// network service connection.
//
// Guarantees:
//   - Request dials the URL found in the context (clienturlctx) once and
//     keeps the *grpc.ClientConn in Client-side metadata for the connection's
//     lifetime; ClientConn(ctx) returns it to later elements (connect, the
//     monitor relay).
//   - With a dial timeout the first Request waits until the target is Ready
//     and fails fast (codes.Unavailable) when it is not: a dead candidate
//     does not cost the caller its whole deadline.
//   - When the URL changes between Requests (the path moved to another hop),
//     the old downstream path is closed through the old conn before the new
//     URL is dialled.
//   - The conn is closed on Close and when the connection's first Request
//     fails; a failed refresh keeps it, gRPC reconnects on its own. A
//     Request over a conn in TRANSIENT_FAILURE resets gRPC's reconnect
//     backoff first: callers retry at their own pace (heal, refresh), and a
//     restarted next hop is used as soon as it listens again.
//   - A Close for which no conn is held (the Request after a reselect
//     failed) dials the URL in the context, so the Close still reaches the
//     next hop.
//   - A conn injected with NewFixedClient is used as is and never closed.
//
// Placement: in a client chain after begin (it needs metadata) and after
// the element that sets the URL (clienturl, discover/roundrobin,
// discoverforwarder), before connect.NewClient.
package dial
