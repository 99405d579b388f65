// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package dnscontext lets an endpoint tell its clients which DNS servers and
// search domains to use for the network service (nsm-reference §4.8).
//
// Server guarantees:
//   - Each configured DNSConfig is appended to the request's
//     context.dns_context.configs unless an equal one (same servers and
//     search domains, in the same order) is there already, so a refresh,
//     or a client that already carries the config, does not grow the list.
//   - Configs the request brought are kept, in their order, before ours.
//   - The appended configs are copies: nothing downstream can change the
//     element's own configuration.
//   - Close is passed on unchanged.
//
// The client side (rewriting resolv.conf, a local DNS fan-out) is not part
// of this package.
//
// Placement: in an endpoint chain after begin, next to the IPAM and before
// the element that returns the connection (upstream: after the mechanisms,
// before sendfd).
package dnscontext
