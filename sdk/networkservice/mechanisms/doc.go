// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package mechanisms dispatches a connection to the sub-chain of its
// mechanism type (KERNEL, MEMIF, VXLAN, …).
//
// Server guarantees:
//   - A request whose connection already has a mechanism (a refresh) goes to
//     that type's sub-chain; an unsupported type fails with
//     codes.InvalidArgument.
//   - Otherwise mechanism_preferences are tried in order: each supported one
//     is set as the connection's mechanism on a fresh copy of the request
//     and its sub-chain runs; the first success wins. No supported
//     preference fails with codes.InvalidArgument "no supported mechanism in
//     preferences [CLS/TYPE …]; supported: [TYPE …]".
//   - Close goes to the sub-chain of the connection's mechanism, or straight
//     on when it has none, so downstream state is always freed.
//
// Client guarantees: the same dispatch, except that without a selected
// mechanism each supported preference is offered on its own (a copy of the
// request with just that preference), so a sub-chain only ever sends the
// preference it prepared.
//
// Sub-chains continue with the element after the dispatcher; a map value
// that cannot pass calls on (no chain.Link) ends the chain there, and a nil
// value means "supported, nothing to do". Map values are linked into the
// dispatcher and so cannot be used elsewhere.
//
// Placement: NSE: after IPAM, e.g. mechanisms.NewServer({KERNEL:
// kernel.NewServer()}); client: mechanisms.NewClient({KERNEL:
// kernel.NewClient()}) before fd passing and connect.
package mechanisms
