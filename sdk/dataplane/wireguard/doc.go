// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package wireguard is the userspace WireGuard tunnel of the kernel data
// plane: one end of a REMOTE/WIREGUARD connection, for machines whose kernel
// has no WireGuard module. It runs wireguard-go (golang.zx2c4.com/wireguard)
// inside the forwarder process.
//
// # Layout
//
// A Tunnel is a TUN interface in the workload's network namespace, under the
// name the mechanism asks for, driven by a wireguard-go device whose UDP
// sockets are bound in the host namespace, on the underlay. Packets the
// workload sends to the interface are read by the forwarder, encrypted and
// sent to the peer forwarder's tunnel address and port; what arrives on the
// port is decrypted and written to the interface. Each tunnel has exactly
// one peer, with allowed IPs 0.0.0.0/0 and ::/0: the interface is point to
// point, routing is the connection context's business.
//
// Only one end should know the other's endpoint. When both ends initiate a
// handshake at the same moment (both have packets as soon as their
// interfaces come up: the kernel's own IPv6 neighbour and multicast
// messages suffice), each drops the response to its own initiation and the
// tunnel waits for WireGuard's 5-second retry. So the endpoint's side is
// configured without the peer's endpoint (Peer.Endpoint zero): it learns it
// from the client side's first handshake, as a WireGuard "server" does, and
// queues its packets until then.
//
// The TUN is created in the host namespace under a random temporary name,
// moved into the workload's namespace with netlink, and renamed there; its
// descriptor stays in the forwarder. (Opening /dev/net/tun from a thread in
// the workload's namespace would also work, but the descriptor would then
// pin that namespace for as long as the connection lives, even after the
// workload is gone.) Because the descriptor belongs to the host namespace,
// the workload's namespace dies with its workload; the kernel then removes
// the interface, the device stops and Done is closed.
//
// # Guarantees
//
//   - Marks. The interface carries the kernel.Mark alias like every link of
//     the kernel data plane, so kernel.List, Prune and DeleteByMark treat it
//     like the others. A name held by a link without the caller's mark is an
//     error; one with it (a leftover) is replaced.
//   - Lifetime. The interface exists exactly as long as the Tunnel: Close
//     (or the forwarder's exit, for any reason) closes the descriptor and
//     the kernel deletes the interface. A restarted forwarder therefore never
//     finds a tunnel to adopt: the keys and the device died with the old
//     process, traffic stops until the connection is requested again (heal
//     re-requests within a second), and the peer's next refresh replaces its
//     peer entry.
//   - Idempotence. Update applies only what changed: nothing when the
//     configuration is the same, the peer alone when only the peer changed
//     (the interface and its addresses stay), a rebind when the port
//     changed.
//   - Atomicity. New removes everything it created when it fails.
//
// MTU: the underlay's minus 60 bytes over IPv4 (IPv4 20, UDP 8, WireGuard
// header 16, authentication tag 16) or 80 over IPv6 (MTUFor).
//
// Sockets: the UDP sockets listen on the port on every address of the host
// namespace, for IPv4 and IPv6. When Config.Host is set (not the forwarder's
// own namespace) they are opened from a thread in that namespace, and
// wireguard-go's route listener (which only refreshes cached source
// addresses when routes change) is not started.
package wireguard
