// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package vppinit attaches VPP to the node's uplink with an af_packet
// interface, so that VPP terminates the VXLAN and WireGuard tunnels of the
// VPP forwarder on the node's own address (NSM_VPP_INIT=AF_PACKET).
//
// # Discover (kernel side)
//
// Discover reads, through a netlink handle in the forwarder's network
// namespace (the node's, hostNetwork), the uplink: the link holding the
// tunnel address, or, without one, the link of the main table's default
// route (IPv4 first, then IPv6) and its first global unicast address of that
// family. It fails with ErrNoUplink when no link holds the address or there
// is no usable default route, and with ErrNotEthernet for a link that is not
// Ethernet (af_packet runs in Ethernet mode). Of the address's family only,
// it collects the link's neighbours whose MAC is known (reachable,
// permanent, stale, delay, probe) and its main-table unicast routes except
// the connected ones (proto kernel: VPP derives them from the address) and
// multipath ones; a default route gets the prefix 0.0.0.0/0 or ::/0.
// Discover only reads.
//
// # Init (VPP side)
//
// Init programs VPP, in this order, on the connection it is given:
//
//	af_packet_dump                 find host-<link> of an earlier run
//	af_packet_create_v3            only if not found: Ethernet mode, the link's MAC,
//	                               10240-byte rx/tx frames, 1024 frames per block,
//	                               TPACKET_V2, one rx and one tx queue
//	sw_interface_set_mtu           the kernel MTU in all four slots
//	acl_dump                       our ACLs of an earlier run, by tag
//	acl_add_replace ×4             pinhole-ingress, denyall-ingress, pinhole-egress,
//	                               denyall-egress (replaced in place when found)
//	acl_interface_set_acl_list     input [pinhole, denyall], output [pinhole, denyall]
//	sw_interface_ip6_enable_disable, sw_interface_ip6nd_ra_config (suppress)
//	                               IPv6 tunnel address only
//	sw_interface_set_flags         admin up
//	ip_neighbor_add_del ×n         the kernel's neighbours (dynamic entries)
//	ip_address_dump                is the tunnel address there already?
//	sw_interface_add_del_address   only if not: the address with its kernel prefix length
//	ip_route_add_del ×n            the routes, one path via the gateway (or onto the
//	                               link) out of the interface, not multipath
//
// The ACLs: denyall-ingress (TagDenyIngress) permits ICMPv6 router and
// neighbour advertisements (types 134, 136) and denies all other IPv4 and
// IPv6; denyall-egress (TagDenyEgress) permits router and neighbour
// solicitations (133, 135) and denies the rest. The pinholes are static,
// set here for the whole port ranges rather than per connection: in, UDP to
// the tunnel address's host prefix on the VXLAN port (WithVxlanPort, default
// 4789) and on the WireGuard ports (WithWireGuardPorts; none by default);
// out, UDP from the tunnel address to the VXLAN port, from a WireGuard port
// and to a WireGuard port. VPP therefore answers nothing on the uplink but
// the tunnels; ARP, ICMP and everything else stay the kernel's, which also
// still receives every frame (af_packet copies, it does not steal).
//
// # Guarantees
//
//   - Idempotence: Init again against the same VPP (a restarted forwarder)
//     reuses the af_packet interface of that link (found by af_packet_dump
//     by host name, never a second one), replaces its four ACLs in place
//     (found by tag; the lowest index wins if a tag repeats) and sets the
//     same interface lists, skips the address when VPP has it, and resends
//     the rest, which VPP treats as updates (MTU, flags, RA config,
//     neighbours, non-multipath routes). Result.Created says which.
//   - Failure: Init stops at the first message that fails; its error names
//     the message and, when VPP refused it, the retval (wrapping govpp's
//     api.VPPApiError). What was done stays; calling Init again completes
//     it. Nothing is ever deleted.
//   - Scope: only the af_packet interface of the uplink and ACLs carrying
//     the four tags are touched. An af_packet interface of another link is
//     left alone.
//
// # Not done (upstream's vppinit does them)
//
//   - AF_XDP, and NSM_VPP_INIT_PARAMS overrides of the af_packet parameters.
//   - Pinging the gateways from the kernel first so that their neighbour
//     entries exist, and adding the other host links' addresses as VPP
//     neighbours.
//   - Per-connection pinholes (upstream's tag nsm-pinhole, one ACL per
//     tunnel port): the static pinholes above stand for them.
//   - Routes of the other address family, multipath routes, routes of other
//     tables; watching the kernel for later changes (Init copies once).
//
// Errors are prefixed "vppinit: ". Placement: the VPP forwarder calls
// Discover and Init once at start, before building its data plane, with the
// result's TunnelIP and MTU.
package vppinit
