// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package trimpath drops stale path segments at the end of a path (upstream
// NSM §2.1).
//
// A path can carry segments behind the endpoint: a reselect to a shorter path
// (remote to local) sends the old, longer path. The hop that ends the path
// must cut them off.
//
// Guarantees:
//   - The server element cuts the path of a successful Request down to
//     path[:index+1] (index: its own segment) unless a trimpath client ran
//     inside it for that same call, which tells it that the path goes on and
//     that the hops behind have trimmed it already.
//   - The client element only marks the call; it changes nothing itself, and
//     outside a trimpath server it does nothing.
//   - Close is passed on unchanged.
//
// The mark travels in the call's context: the server puts a flag into the
// context it passes on, and the client chain, which a passthrough runs with
// that context, sets it. Unlike per-connection metadata this needs no begin,
// is per call, and leaves no state; a client chain started from a stale
// context (its own refresh events) sets a flag no server reads any more.
//
// Placement: server in every server chain after updatepath (upstream: after
// monitor, before the additional elements); client in every client chain
// (upstream: before connect). Endpoints then trim, passthroughs keep the path.
package trimpath
