// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package fakevpp is the test scaffolding shared by the VPP packages' tests:
// a fake VPP built on govpp's mock adapter. What the fake knows of VPP's
// state (interfaces, ACLs, tunnels) is a Model each package supplies; this
// package carries the messages to and from it.
//
// Guarantees:
//   - Recording: every request but control pings is decoded with govpp's
//     codec into its binapi type and recorded, in arrival order, before the
//     Model sees it; Take hands them out once, Names and Of select from them.
//   - Exclusion: the Model's methods run one at a time under the VPP's lock;
//     a test reading the Model's state takes the same lock (Lock, Unlock).
//   - Failure injection: FailOn and DropReply act on the nth occurrence of a
//     message counted from the call, once; a refused message reaches the
//     Model with its retval, a dropped one is carried out without a reply.
//   - Dumps (messages named *_dump) are answered with the Model's details
//     followed by the control ping's reply, as VPP answers them.
//   - Problems of the fake itself (an unknown message, a reply it cannot
//     encode) fail the test with t.Errorf; they are never returned to the
//     code under test as VPP errors.
//   - Render is the one form of the golden files: a line per request,
//     message name then its fields as JSON.
//
// Import it from tests only.
package fakevpp
