// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package kernel fills in the LOCAL/KERNEL mechanism on both ends of a
// connection: the network namespace the interface goes into and the
// interface's name.
//
// Client (the NSC side):
//   - Every KERNEL preference gets this process's netns URL
//     (file:///proc/thread-self/ns/net unless overridden) and, when it has
//     none, an interface name; without a KERNEL preference (and no mechanism
//     selected yet) one is appended. On refresh the selected KERNEL
//     mechanism gets the netns URL again, because fd passing rewrites it on
//     every hop.
//   - The name is the configured one, or "<first 10 chars of the service>-"
//     followed by random [0-9A-Za-z] up to 15 characters, generated once per
//     connection.
//
// Server (the NSE side, usually inside mechanisms.NewServer): a KERNEL
// mechanism gets the endpoint's own netns URL, and an interface name (the
// configured one, the requested one when valid, or a generated one).
//
// The netns URL is a file:// URL that only means something in this process;
// fdpass turns it into a file descriptor on unix sockets.
package kernel
