// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package updatepath keeps Connection.Path and Connection.Id consistent as a
// connection passes the hops of the mesh (upstream NSM semantics, wire
// compatible).
//
// Guarantees, for an element named N:
//   - Below the element, path[index] is N's own segment and conn.id is its id.
//     The first hop creates the path (with the connection id it was given, or
//     a random uuid); a hop that sees its own name at index (a refresh, or a
//     client behind its server of the same name) keeps the index; any other
//     hop moves index one on and takes the segment there, reusing its id when
//     it already bears N's name, so ids are stable across refreshes, and
//     otherwise (no segment there, or another hop's) setting a new one.
//   - A new segment's id is derived (UUID version 5) from the previous
//     segment's name and id and N: a caller that sends its segment again
//     without the rest of the path (a client restarted with a fixed
//     connection id) reaches the segment it had, here and at every hop after,
//     so each hop finds the connection it holds: the client's connection id
//     is the key. Ids stay distinct per hop and per connection as long as
//     forwarder and endpoint names are unique (the registry needs that
//     anyway) and two clients of one nsmgr do not use the same name and
//     connection id (cmd-nsc: a distinct NSM_NAME per workload). That another
//     identity cannot take over a connection this way is authorize's
//     ConnectionOwner's job.
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
