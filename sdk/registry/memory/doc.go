// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package memory is the in-memory store of a registry: network services and
// endpoints by name, Find with and without watch.
//
// Guarantees:
//   - Register stores a copy of what the rest of the chain returned and
//     returns it; Unregister removes the name and is idempotent.
//   - Find sends every stored registration that matches the query (see
//     MatchNS and MatchNSE) and ends. With watch it then sends every later
//     Register (deleted=false) and Unregister (deleted=true, which is how
//     expiry shows) that matches, in the order the store saw them, with no
//     gap and no duplicate between the snapshot and the updates.
//   - A slow watcher never blocks the store: each watcher has a bounded
//     buffer (WithWatchBuffer); one that falls that far behind is ended with
//     ResourceExhausted and has to Find again.
//   - When the constructor's context is done, open watches end with
//     Unavailable, so that a server can stop gracefully.
//
// Placement: last in a registry server chain; it also works on its own. It
// calls the rest of the chain (if any) before storing, so elements after it
// see Register and Unregister, but Find is answered here and goes no further.
package memory
