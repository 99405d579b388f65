// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package xconnect joins the two halves of a forwarder: the mechanism its
// client chose upstream and the one the next hop chose downstream, and has a
// Dataplane program the path between them.
//
// Guarantees:
//   - Translation: the next hop never sees the upstream mechanism; it gets the
//     downstream mechanism it agreed to before (refresh) or none (first
//     Request), so mechanism preferences for the next hop are chosen afresh by
//     the elements after this one. The caller gets its own mechanism back.
//   - Programming happens after the next hop answered, so both mechanisms
//     and the connection context (addresses, routes, MTU) are known.
//     Dataplane.Program is called on every Request (refresh included) and must
//     be idempotent.
//   - Undo: when programming fails on a first Request the new downstream
//     connection is closed; on Close the data plane is unprogrammed before the
//     next hop is closed, and the next hop is closed even if unprogramming
//     fails. Both use a context that outlives the caller's cancellation.
//
// Placement: in the forwarder's client chain (the one inside connect), after
// begin and before the elements that add downstream mechanism preferences.
package xconnect
