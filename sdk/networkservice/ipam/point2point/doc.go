// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package point2point is an endpoint's IPAM for point-to-point links: each
// connection gets one address for the endpoint and one for the client.
//
// Guarantees (nsm-reference §4.7):
//   - The prefixes are pools. A connection gets one pair per address family
//     present among them (so [10.0.0.0/24 fd00::/64] is dual stack), each
//     pair from the first pool of its family with two free addresses that
//     are not in the request's excluded_prefixes. The network address is
//     not skipped: 192.168.0.0/16 yields dst 192.168.0.0, src 192.168.0.1.
//   - The first address is dst (the endpoint's side), the second src (the
//     client's), both as /32 or /128; the element adds src_ip_addrs, dst_ip_addrs,
//     src_routes {dst} and dst_routes {src} and removes host addresses and
//     routes of its pools that the connection does not hold.
//   - A refresh keeps the addresses; a pair that has become excluded is
//     replaced (only in its family) and freed once the Request succeeds.
//   - Without state for the connection (a new one, or after an endpoint
//     restart) the addresses the request carries are recovered when they
//     are in a pool and free, so clients keep their addresses.
//   - Addresses are freed on Close and when a connection's first Request
//     fails further down the chain.
//   - No room: codes.ResourceExhausted "no free addresses in [pools]";
//     malformed excluded_prefixes: codes.InvalidArgument.
//
// Placement: in an endpoint chain after begin, before the mechanisms.
package point2point
