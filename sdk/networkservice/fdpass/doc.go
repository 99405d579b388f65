// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package fdpass carries files named in mechanism parameters (the inodeURL
// of KERNEL netns and MEMIF sockets) between processes as file descriptors
// over unix sockets, the way upstream NSM does with grpcfd (nsm-reference
// §1.10.3), so a peer never has to guess another process's /proc paths.
//
// On the wire a file travels as inode://<dev>/<ino> plus the descriptor
// (SCM_RIGHTS); locally it is file:///proc/<pid>/fd/<n>.
//
// Elements, in the order they belong in a chain:
//   - NewRecvServer: an inode:// URL in the request's mechanism or
//     preferences is swapped for the received descriptor's file:// URL; the
//     files are kept per connection, reused on refresh, closed on Close, on a
//     failed first Request and when a refresh no longer names them. The
//     caller gets its own inode:// URL back. An inode:// URL over a
//     connection that cannot carry descriptors, or a descriptor that does
//     not arrive, fails with codes.FailedPrecondition.
//   - NewSendServer: a file:// URL in the returned mechanism is sent back
//     to the caller as inode:// (files NewRecvServer received in the same
//     call are only swapped back, not echoed).
//   - NewRecvClient: an inode:// URL in the returned mechanism is swapped
//     for the received descriptor (kept per connection, closed on Close); a
//     descriptor the server did not send leaves the URL as it is.
//   - NewSendClient: file:// URLs in the request's mechanism and
//     preferences are sent as descriptors and rewritten to inode://; the
//     returned connection gets the original URLs back. Towards a tcp:// next
//     hop nothing is rewritten: descriptors cannot cross it.
//
// Both ends must wrap their transport credentials with grpcfd: use
// ServerOptions and DialOptions.
//
// Placement: nsmgr server chain: NewRecvServer early, NewSendServer after
// connect; client chains: NewRecvClient before NewSendClient, both before
// connect; NSE: NewSendServer after the mechanisms.
package fdpass
