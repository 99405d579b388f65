// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package updatepath keeps Connection.Path and Connection.Id consistent as a
// connection passes the hops of the mesh (upstream NSM semantics, wire
// compatible).
//
// Guarantees, for an element named N:
//   - Below the element, path[index] is N's own segment and conn.id is its id.
//     The first hop creates the path; a hop that sees its own name at index
//     (a refresh, or a client behind its server of the same name) keeps the
//     index; any other hop moves index one on and takes the segment there,
//     reusing its id when it already bears N's name, so ids are stable across
//     refreshes, and replacing it with a fresh uuid when another hop's segment
//     is in the way.
//   - A connection whose id is not the id of path[index], or whose index is
//     outside the path, is refused with codes.InvalidArgument before anything
//     else runs.
//   - The connection a Request returns has the index and id the caller sent
//     (its own segment), with the full path as the rest of the chain left it.
//
// Placement: first in every server chain (before begin, which keys its state
// by the id this element sets) and first in every client chain. A passthrough
// hop (nsmgr, forwarder) builds its client with the same name as its server,
// so that both share one segment.
package updatepath
