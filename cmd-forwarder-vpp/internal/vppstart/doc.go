// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package vppstart runs a local VPP as a child process of the forwarder, for
// when no external VPP is there to attach to.
//
// Guarantees:
//   - The startup configuration is the one upstream's forwarder gives its
//     local VPP (Render): the API on a socksvr socket under the root
//     directory, no DPDK plugin, no workers, buffers sized for 4 KiB pages, so
//     neither hugepages nor a NIC driver are needed. A configuration file that
//     already exists is used as it is, so an operator can replace it.
//   - Start fails at once, with a message naming what is missing, when the
//     VPP executable cannot be found or another process already serves the
//     API socket; it never reports a VPP that does not run.
//   - A stale API socket (nobody listening) is removed before VPP starts, so
//     a dial cannot reach the previous, dead VPP.
//   - Done is closed when VPP exits, for whatever reason; Err then says why.
//     VPP gets SIGKILL if the forwarder process dies first (the parent-death
//     signal of its thread, which stays locked until VPP exits).
//   - Stop ends VPP (SIGTERM, then SIGKILL after the grace) and returns only
//     once it has exited and its output is logged.
//
// VPP's output lines are logged with the field component=vpp.
package vppstart
