// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package vppxc is the VPP implementation of xconnect.Dataplane: it turns
// the two mechanisms of a forwarder's connection into VPP interfaces joined
// by a cross-connect, through VPP's binary API (go.fd.io/govpp v0.13.0,
// VPP 25.10 messages) on a connection from sdk/dataplane/vpp. The workload
// side (addresses, routes, neighbours and MTU inside the pod's namespace) is
// configured with the netlink code of sdk/dataplane/kernel (Configure), as
// the kernel data plane does.
//
// # Mechanism pairs
//
// The upstream end (towards the client) and the downstream end (towards the
// endpoint) each become one VPP interface:
//
//   - LOCAL/KERNEL: a tap whose host side VPP creates in the workload's
//     namespace (host_namespace: the file path of the mechanism's inodeURL,
//     which VPP opens itself), named after the mechanism's interface name
//     (or a name derived from the connection id when it has none). TUN mode
//     for IP payload, TAP mode for Ethernet. The upstream tap's workload side
//     is configured as kernel.SideSrc, the downstream one as SideDst.
//   - REMOTE/VXLAN: a VXLAN tunnel, local address and port this node's side
//     of the mechanism (src on the client's node, dst on the endpoint's),
//     VNI from the mechanism, ports defaulting to WithVxlanPort. VXLAN
//     carries Ethernet: with a VXLAN end the taps are TAP and the
//     cross-connect is L2 whatever the payload, so that ARP and NDP resolve
//     across the tunnel, as with the kernel forwarder's vxlan devices.
//   - REMOTE/WIREGUARD (IP payload only, needs WithWireGuard): a WireGuard
//     interface with this side's private key (looked up in the allocator by
//     the public key this forwarder published), address and port, and one
//     peer: the other side's key and endpoint, allowed IPs 0.0.0.0/0 and
//     ::/0, persistent keepalive WithWireGuardKeepalive.
//
// Supported: KERNEL-KERNEL, KERNEL-VXLAN, VXLAN-KERNEL, KERNEL-WIREGUARD,
// WIREGUARD-KERNEL. Anything else, and any malformed mechanism or context,
// fails with an error (wrapping ErrUnsupported for unsupported pairs and
// payloads) before a message reaches VPP. A connection without a payload is
// IP over WireGuard and Ethernet otherwise.
//
// # Messages
//
// Creating an interface (each step on the sw_if_index VPP returned):
//
//	tap:       tap_create_v3 (tagged at birth too), sw_interface_tag_add_del,
//	           sw_interface_set_rx_mode (adaptive), sw_interface_set_mtu,
//	           sw_interface_set_flags (admin up)
//	VXLAN:     add_node_next (vxlan4-input or vxlan6-input to ethernet-input),
//	           vxlan_add_del_tunnel_v3 (decap_next_index from add_node_next),
//	           sw_interface_tag_add_del, sw_interface_set_mtu, sw_interface_set_flags
//	WireGuard: wireguard_interface_create (generate_key false),
//	           sw_interface_tag_add_del, wireguard_peer_add,
//	           sw_interface_set_mtu, sw_interface_set_flags
//
// The MTU goes into all four slots of sw_interface_set_mtu and is also the
// workload interface's: the context's MTU (DefaultMTU when unset) for a
// local connection; for a tunnel, WithUnderlayMTU minus 50/70 (VXLAN over
// IPv4/IPv6) or 60/80 (WireGuard), lowered to the context's and the tunnel
// mechanism's MTU when they are smaller.
//
// Then the cross-connect, upstream interface A and downstream interface B:
// for Ethernet, sw_interface_set_l2_xconnect A to B and B to A; for IP, one
// l3xc_update per direction and family (A IPv4, A IPv6, B IPv4, B IPv6),
// one path out of the other interface whose next hop is the far side's first
// address of that family (the endpoint's dst_ip_addrs going from A, the
// client's src_ip_addrs going from B), none when it has none.
//
// Unprogram undoes exactly that in reverse order: the cross-connect
// (l3xc_del, or sw_interface_set_l2_xconnect with enable off), then the
// downstream interface, then the upstream one (tap_delete_v2;
// vxlan_add_del_tunnel_v3 with is_add off and the same parameters;
// wireguard_peer_remove then wireguard_interface_delete). add_node_next is
// never undone: the graph arc is shared and harmless.
//
// Every error names the message and, when VPP refused it, its retval (the
// error wraps govpp's api.VPPApiError); a message that got no answer is
// reported with "outcome unknown". Every message is logged at debug level
// with its duration; each Program that changed something is logged at info
// level.
//
// # Guarantees
//
//   - Ownership: every interface carries the VPP tag
//     "nsm:<owner>:<connection>:<end><kind>:<hash>", where owner is
//     WithOwner, connection is Pair.ID (or a hash of it when it does not fit
//     in VPP's 63 bytes), end is u(pstream) or d(ownstream), kind is t(ap),
//     x (VXLAN) or w(ireGuard), and hash covers everything fixed at creation
//     (the tap's namespace by inode, name and mode; the tunnel's addresses,
//     ports and VNI or key). Nothing without this owner's tag is ever
//     modified or deleted, and an interface is reused only for a plan it was
//     made for.
//   - Idempotence: a refresh (Program with the same Pair) sends one
//     sw_interface_dump per interface, checking that its index still
//     carries its tag, and nothing else; changes are applied minimally (a
//     new MTU, new next hops, a new WireGuard peer are updated in place; an
//     interface whose fixed parameters changed is removed, with its
//     cross-connect, and made anew). An interface gone from VPP (VPP
//     restarted; its index may now be someone else's) is recreated, never
//     touched by its stale index.
//   - Atomicity: when Program fails, what it created is removed in reverse
//     order (cross-connect halves on new interfaces, then the interfaces)
//     with a context that outlives the caller's (xconnect.UnprogramTimeout);
//     interfaces it kept or adopted stay, so a failed refresh never tears
//     down a working connection, and Unprogram still removes them.
//   - Close: Unprogram checks each interface's tag before deleting it; what
//     is already gone is not an error. For a connection this run did not
//     program (after a restart), it deletes every interface tagged for it.
//   - Restart: VPP outlives the forwarder, and so do the interfaces. New
//     dumps VPP's interfaces once; those of this owner are kept for the
//     adoption grace (WithAdoptionGrace, default DefaultAdoptionGrace: the
//     longest token lifetime, within which every live connection is
//     refreshed or healed). A Program for a connection that had interfaces
//     then dumps them and adopts those whose tag matches its plan exactly
//     (no create message: rx mode, MTU, admin state and the cross-connect are
//     asserted again), removing the connection's others. When the grace
//     ends, Prune deletes every interface of this owner that no programmed
//     connection claims (first its possible cross-connect, VPP refusing
//     being fine, then the interface; a VXLAN tunnel is looked up with
//     vxlan_tunnel_v2_dump for the parameters its deletion needs). A zero
//     grace prunes in New. WireGuard interfaces are never adopted: their
//     private keys die with the forwarder, the heal negotiates new ones and
//     the old interface is removed. New's ctx bounds the pending prune; Close
//     stops it.
//   - Lost replies: a first Program of a connection dumps VPP's interfaces
//     only when an earlier run left some for it, or when one of its messages
//     went unanswered (it may have been carried out); taps are tagged in
//     tap_create_v3 itself, so a tap whose reply was lost is found and
//     adopted rather than colliding on its name.
//   - Concurrency: different connections may be programmed concurrently;
//     calls for one connection must not overlap (begin serialises them).
//     Prune excludes Program and Unprogram while it runs. Every namespace
//     opened by a call is closed before it returns.
//
// # Requirements of a real VPP
//
// The tapv2, vxlan, wireguard and l3xc plugins loaded; VPP able to open the
// forwarder's /proc/<pid>/fd/<n> namespace paths (same PID namespace, or
// hostPID); the uplink configured with the tunnel address. Not implemented:
// MEMIF, IPsec, VLAN, the veth/af_packet fallback when /dev/vhost-net is
// missing, tunnel-port pinholes (ACLs), interface metrics, and waiting for
// link-up.
//
// Placement: forwarder.WithDataplane(dp) in the VPP forwarder's chain; New
// before serving, Close when done.
package vppxc
