// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package liveness checks the data plane of a connection, for heal
// (heal.WithLivenessCheck).
//
// NewKernelCheck pings every destination address of the connection's IP
// context from inside the network namespace of its KERNEL mechanism, over
// the connection's interface:
//   - The namespace is the one the mechanism names (file:// URL), or the
//     caller's own when it names the calling thread or process
//     (/proc/thread-self/ns/net, /proc/self/ns/net) or cannot be opened here
//     (an inode:// URL that fd passing did not turn back into a file).
//     WithNetNS fixes it instead.
//   - Echo requests leave from the connection's source address of the same
//     family and, with CAP_NET_RAW, are bound to the mechanism's interface:
//     an interface that is gone means a dead data plane. Without CAP_NET_RAW
//     the unprivileged ICMP socket is used (net.ipv4.ping_group_range).
//   - Requests are sent again every resend interval (100 ms by default)
//     until a matching reply arrives or the context ends; the check is true
//     only when every destination answered in time.
//   - A connection that is not KERNEL, or has no destination address, has
//     nothing to ping: the check is true.
//
// Only the socket is created inside the namespace (on a locked OS thread
// that is switched back, or discarded when that fails); no goroutine runs
// in a foreign namespace.
package liveness
