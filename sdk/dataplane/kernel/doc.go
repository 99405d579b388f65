// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package kernel is the Linux kernel data plane of nsmesh: it creates the
// interfaces of a connection inside workload network namespaces and
// configures them from the connection context, with netlink and netns only.
// It knows nothing of chains; the forwarder's data-plane elements call it on
// the way back of Request and on Close.
//
// # Namespaces
//
// A NetNS is an open namespace file: from a file:// URL such as the
// file:///proc/<pid>/fd/<n> that fd passing leaves in the kernel
// mechanism's inodeURL parameter, from a path, a /run/netns name, or a
// descriptor. All link, address, route and neighbour work goes through a
// netlink socket opened inside the target namespace, so no goroutine ever
// runs in a foreign namespace; NetNS.Do exists for the rest (sysctls,
// sockets) and never returns a thread to the scheduler in the wrong
// namespace.
//
// # Mechanisms
//
//   - Veth: LOCAL KERNEL↔KERNEL. One veth pair, each end created directly in
//     its namespace by a single request (no temporary names, nothing to undo
//     if it fails).
//   - Vxlan: REMOTE VXLAN, Ethernet or IP payload. The device is created from
//     the host namespace straight into the workload's under its final name;
//     its UDP socket stays in the host namespace, on the underlay. MTU
//     defaults to the underlay's minus 50 (IPv4 outer) or 70 (IPv6 outer).
//     IP payload needs nothing extra: ARP/NDP works across the tunnel.
//
// # Guarantees
//
//   - Ownership. Every link created carries the interface alias
//     "nsm:<owner>:<conn-id>" (Mark). Nothing without the caller's exact
//     Mark is ever modified or deleted; a name held by a foreign link is an
//     error, not a takeover.
//   - Idempotence. Ensure adopts a link that already matches (and reports
//     Created=false so that a failed refresh does not delete a working
//     interface), and replaces one of its own that does not. Apply changes
//     only what differs and removes what the context no longer lists
//     (addresses, routes tagged with RouteProtocol, permanent neighbours).
//     Delete of something already gone succeeds.
//   - Restart. Links outlive the process. List and ScanNetNS find what an
//     earlier run left; Prune and DeleteByMark remove what is not adopted.
//   - Atomicity. A failing Ensure removes what it created before returning.
//     The kernel ignores an alias in the create request, so the alias is set
//     right after; a crash in that window leaves an unmarked link, which a
//     later Ensure reports as a name conflict rather than taking it over.
//   - Concurrency. All functions may run concurrently for different
//     connections; netlink dumps interrupted by concurrent changes are
//     retried.
//   - Cost. Apply reads only its own interface: the link by name, and
//     address, route and neighbour dumps that the kernel filters by
//     interface (strict checking, NETLINK_GET_STRICT_CHK, Linux 4.20 and
//     later), so configuring one interface costs the same however many
//     others the namespace holds, and the small answers are rarely
//     interrupted by changes elsewhere. On an older kernel, or if the kernel
//     rejects a filtered request, Apply falls back for the rest of the
//     process to dumping the whole namespace and filtering here, which grows
//     with the namespace. List, Prune and DeleteByMark always dump every
//     link of the namespace.
//
// Not implemented: ip_context.policies (policy routing; ignored with a
// warning), VLAN, the routeLocalNet and IPTables4NatTemplate parameters,
// and setting MAC addresses from the ethernet context.
//
// Errors are wrapped as "kernel: <operation> <object>: <cause>"; what is
// programmed is logged with the time it took.
package kernel
