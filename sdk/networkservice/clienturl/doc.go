// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package clienturl fixes the next hop of a chain: its server and client
// elements put one URL into the request context (sdk/tools/clienturlctx),
// where dial picks it up.
//
// Guarantees:
//   - Every Request and Close that passes the element carries the configured
//     URL, replacing whatever an earlier element put there.
//   - A nil URL makes the element a no-op, so optional URLs can be written
//     inline in a chain literal.
//
// Placement: before dial, e.g. in a client chain `begin → … → clienturl →
// dial → … → connect`, or in a server chain before connect.NewServer.
package clienturl
