// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package kernelxc is the Linux kernel implementation of xconnect.Dataplane:
// it turns the two mechanisms of a forwarder's connection into interfaces in
// the workloads' network namespaces, using the netlink library in
// sdk/dataplane/kernel. The forwarder chain calls it from xconnect.
//
// # Mechanism pairs
//
//   - upstream LOCAL/KERNEL, downstream LOCAL/KERNEL (client and endpoint on
//     this node): one veth pair, end A in the client's netns named after the
//     upstream mechanism's "name", end B in the endpoint's netns named after
//     the downstream one. A is configured as kernel.SideSrc, B as SideDst.
//   - upstream LOCAL/KERNEL, downstream REMOTE/VXLAN (this forwarder is on
//     the client's node): a vxlan device in the client's netns, local =
//     src_ip, remote = dst_ip, configured as SideSrc.
//   - upstream REMOTE/VXLAN, downstream LOCAL/KERNEL (this forwarder is on
//     the endpoint's node): a vxlan device in the endpoint's netns, local =
//     dst_ip, remote = src_ip, configured as SideDst.
//   - upstream LOCAL/KERNEL, downstream REMOTE/WIREGUARD (client's node) and
//     upstream REMOTE/WIREGUARD, downstream LOCAL/KERNEL (endpoint's node),
//     with WithWireGuard: a userspace WireGuard tunnel (sdk/dataplane/wireguard)
//     whose TUN interface is in the workload's netns and whose UDP socket,
//     on this side's port (src_port or dst_port), is in the host namespace.
//     The private key is the one behind this side's published public key
//     (src_public_key or dst_public_key), looked up in WireGuardKeys; the
//     peer is the other side's key. The client's side knows the peer's
//     endpoint and sends keepalives; the endpoint's side learns the
//     client's address from its first handshake (two ends greeting at once
//     would stall the handshake for 5 s). MTU: the underlay's minus 60
//     (IPv4) or 80 (IPv6), lowered like VXLAN's.
//
// Anything else (e.g. VXLAN on both sides) fails without touching the
// kernel. The payload (IP or ETHERNET) needs no difference: the vxlan
// device is an Ethernet segment of two hosts, so ARP and NDP resolve across
// it. A mechanism without an interface name gets a stable derived one
// ("nsm" + side + hash of the connection id).
//
// VXLAN: the device's UDP socket stays in the host namespace (the
// forwarder's own, or WithHostNetNS). Linux sends to and receives on one
// port, so src_port and dst_port must be equal (a missing one takes the
// other's value, both missing mean 4789). The VNI must be unique among all
// vxlan devices of the host namespace whatever their remote; a clash is
// reported as an error (see the VNI note in sdk/dataplane/kernel). The device
// MTU is the underlay's minus the encapsulation overhead, lowered to the
// connection context's MTU or the mechanism's MTU parameter when they are
// smaller; that MTU is also what the interface is configured with.
//
// # Guarantees
//
//   - Ownership: every link carries the kernel.Mark {owner, connection id},
//     where the owner is the forwarder name and the connection id is
//     Pair.ID, the forwarder's own path segment id. It is stable across
//     refreshes and, because updatepath reuses a segment id that bears the
//     hop's name, across forwarder restarts; unlike path[0].id it is
//     distinct for each pass of one connection through this forwarder.
//   - Idempotence: Program on a refresh adopts the links it finds and only
//     corrects what differs. When a refresh changes the layout (another
//     namespace or interface name) the previous links are removed first.
//   - Atomicity: when Program fails, the links this call created are
//     deleted; links it adopted are left alone, so a failed refresh never
//     tears down a working interface (xconnect unprograms after a failed
//     first Request).
//   - Close: Unprogram deletes every link with the connection's mark in the
//     namespaces of the connection, including one reached only by scanning
//     when its file:// URL no longer opens. Missing links are not an error.
//   - Namespaces: every namespace opened by a call is closed before it
//     returns, so the data plane never keeps a workload namespace alive.
//   - WireGuard tunnels live in this process: the device, its keys and its
//     TUN descriptor. Close (or the process's end) removes their interfaces,
//     so a restarted forwarder never finds one to adopt: traffic stops until
//     the connection is requested again (heal re-requests it), which
//     negotiates new keys. A refresh updates a running tunnel in place (a new
//     peer key or endpoint after the other forwarder restarted, a new port,
//     the MTU) and recreates it only when the interface moved or the tunnel
//     died with its namespace. The interfaces carry the Mark like the others,
//     so Prune and DeleteByMark treat them alike.
//   - Restart: Start scans all namespaces for links of this owner left by an
//     earlier run. They are kept for the adoption grace period, during which
//     re-requests (heal, refresh) adopt them through Program; after it, Prune
//     deletes every link of this owner that no programmed connection claims.
//     The grace should be at least the longest token lifetime of the
//     clients: by then every live connection has been refreshed. A zero
//     grace prunes at once.
//
// Placement: forwarder.WithDataplane(dp) in the forwarder chain; call Start
// before serving and Close when done.
package kernelxc
