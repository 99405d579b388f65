// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package begin serialises the calls of each connection and lets elements
// inject later events (refresh, timeout, heal, expiry) into the chain.
//
// Guarantees:
//   - Exclusivity: Requests and Closes for one connection id, including events
//     from the EventFactory, run one at a time and in arrival order; different
//     connections run in parallel.
//   - Metadata: each connection gets one metadata.Map per side, created on its
//     first Request, dropped when that Request fails and after Close.
//   - Close correctness: Close passes the last connection the chain returned
//     (not the caller's copy) to the rest of the chain, exactly once; a Close
//     for an unknown id succeeds without calling the chain. A Close the
//     chain refuses as PermissionDenied or Unauthenticated (another identity
//     trying to close someone else's connection) leaves the connection as it
//     was.
//   - Events run with the values of the last successful Request's context
//     (peer, metadata, ...) but not its cancellation, and with the same
//     timeout that Request had.
//   - Reselect: a server receiving a Request in state RESELECT_REQUESTED for
//     an established connection first closes the old downstream path.
//   - Same connection, forgotten path (client side): a Request for an
//     established connection that carries the path only up to this hop's
//     segment (a client resending its first request, or a passthrough whose
//     client restarted with the same connection id) refreshes the stored
//     connection: the caller's segments and tokens, then the stored rest of
//     the path, endpoint and context; labels, context, endpoint and
//     mechanism preferences the caller sent apply, and preferences without a
//     mechanism let the next hop choose the mechanism again.
//
// Placement: right after updatepath (the id must already be this hop's
// segment id) and before every element that keeps per-connection state. The
// prebuilt chains place it; a Request with an empty connection id fails.
package begin
