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
//     (or through its pin, see below) when its file:// URL no longer opens.
//     Missing links are not an error.
//   - Nothing left behind after a failed Unprogram: when a link cannot be
//     deleted (a netlink dump interrupted again and again under load, a
//     namespace busy), Unprogram returns the error and keeps the connection
//     as "to be removed": the deletion is retried in the background after
//     100 ms, then twice as long each time up to 5 s, each pause shortened
//     at random by up to half (PendingRemovals lists them). The retries go
//     on until they succeed, a Program of the same connection id cancels
//     them (the connection is wanted again; Program waits for a retry in
//     flight, so none deletes what it adopts), or the data plane stops
//     (Close, or the end of the context given to Start): then the links are
//     left for the next run's prune. Retries are logged at debug, the
//     success at info and giving up at warn, each with the conn field.
//   - Namespaces: every namespace opened by a call is closed before it
//     returns. Without WithStateDir the data plane never keeps a workload
//     namespace alive; with it, a namespace stays pinned while a connection
//     of this run uses it (see Remembered namespaces).
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
//     earlier run (those of all processes and /run/netns, and the pinned
//     ones). They are kept for the adoption grace period, during which
//     re-requests (heal, refresh) adopt them through Program; after it, Prune
//     deletes every link of this owner that no programmed connection claims.
//     The grace should be at least the longest token lifetime of the
//     clients: by then every live connection has been refreshed. A zero
//     grace prunes at once.
//
// # Remembered namespaces
//
// A forwarder in a container usually cannot see the other containers'
// processes in /proc, so the scan of a restarted run misses the namespaces
// of connections closed while it was down, and their links stay. With
// WithStateDir(dir) the data plane remembers each namespace it programs a
// link in: before creating anything, Program bind-mounts the namespace's
// nsfs file (reached through the process's own /proc/self/fd) onto
// dir/<owner>.netns/<dev>-<ino>, the namespace's identity. Start, Prune and
// Unprogram's search for a lost namespace open these pins in addition to
// what the scan finds, so a restarted run prunes such leftovers like any
// other. A namespace is unpinned when the last connection of this run that
// uses it is unprogrammed (or moved elsewhere by a refresh), and pins of an
// earlier run when the prune after the adoption grace finds nothing of this
// owner left in them (at once when Start finds no leftovers at all). A
// removal given up at Close keeps its pins for the next run. Start fails
// when it cannot pin in dir (not writable, no CAP_SYS_ADMIN), and so does
// Program when a pin fails.
//
// Limits:
//
//   - A pin is a mount in the forwarder's mount namespace. It outlives a
//     restart of the process in the same mount namespace; it outlives a
//     restart of the container only when mounts under dir reach the host
//     (e.g. a Kubernetes hostPath volume with mountPropagation
//     Bidirectional, or a bind mount with rshared propagation from a shared
//     host mount). Otherwise the next run finds pin files without a mount,
//     removes them and falls back on the scan.
//   - A pin keeps its namespace alive after the workload's processes have
//     exited: until its connection is closed (a client that vanished is
//     closed by the mesh when its token expires) or, when the forwarder is
//     down, until its next run prunes. The links in it, and the VNI of a
//     vxlan device in it, live as long. A forwarder taken away for good
//     leaves its pins behind: unmount dir/<owner>.netns/* to release them.
//   - Pins only find namespaces; links are still deleted only by their mark,
//     so another owner's links in a pinned namespace are never touched.
//
// Placement: forwarder.WithDataplane(dp) in the forwarder chain; call Start
// before serving and Close when done.
package kernelxc
