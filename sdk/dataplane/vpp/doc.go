// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package vpp connects nsmesh to VPP's binary API over its unix socket with
// go.fd.io/govpp, for the VPP data plane (sdk/dataplane/vpp/vppxc) and the
// VPP forwarder.
//
// # Dial
//
// Dial waits for VPP: first for the socket file to appear (VPP may still be
// starting, or be started by the caller a moment before), then it connects
// and retries, every 10 ms at first and at most every 250 ms, until a
// connection succeeds or ctx ends. VPP creates the socket file before it
// accepts connections, so a refused connect, or a socket that accepts but
// does not complete govpp's handshake in time, is retried too. The error
// when ctx ends names the socket path, says whether the file ever appeared
// and carries the last connect error. ctx bounds the wait only: the returned
// connection lives until Close.
//
// The connection returned is an api.Connection usable by the generated binapi
// service clients; its dynamic type is *Conn, so Close(conn) (or
// conn.(*Conn).Close()) disconnects it. It does not reconnect: when VPP
// restarts every call fails, and the caller is expected to dial again (the
// forwarder exits and is restarted with VPP).
//
// # Minimum operation timeout
//
// A binary-API request that VPP has received is carried out even when the
// caller stops waiting for its reply. A create message cancelled by an
// expiring context therefore leaves an interface whose index nobody learnt,
// which nothing will ever delete; and govpp may deliver the late reply to the
// next stream that reuses the channel. Every call on a connection from Dial
// (and on any connection wrapped by WithMinTimeout) is therefore given at
// least the minimum operation timeout (DefaultMinOperationTimeout, 2 s; the
// forwarder's NSM_VPP_MIN_OPERATION_TIMEOUT), counted from the call:
//
//   - a context whose deadline is further away than that, or that has no
//     deadline, is used unchanged;
//   - a context whose deadline is nearer (or already past) is replaced, for
//     this call, by one that expires the minimum timeout after the call
//     started and keeps the caller's values;
//   - cancelling the caller's context (context.Canceled, as opposed to its
//     deadline passing) still cancels the call at once: a caller that gives
//     up on purpose is obeyed.
//
// Streams (dumps) get the same treatment for as long as they are open; event
// watchers are long-lived and keep the caller's context.
//
// Errors are prefixed "vpp: ".
package vpp
