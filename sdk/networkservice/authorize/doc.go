// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package authorize checks the path tokens of a connection against policies,
// natively in Go (the upstream defaults of its Rego policies, §2.3 of the NSM
// reference).
//
// Default policies (each a Policy, usable on its own):
//   - TokensValid: every token present in the checked segments is a JWT.
//   - TokensUnexpired: every segment that has a token has now < exp. Not
//     applied on Close: an expired path must stay closable (the timeout
//     element closes exactly such paths), and the signature policies still
//     prove who asks.
//   - TokensChained: for adjacent segments x, x+1 that both carry tokens, a
//     non-empty aud of token x contains the sub of token x+1.
//   - PrevTokenSigned (server): token[index-1] verifies (ES256) with the public
//     key of the certificate the gRPC caller presented, and its sub is that
//     certificate's SPIFFE ID (a member cannot sign, with its own key, a
//     token naming someone else).
//   - NextTokenSigned (client): token[index+1] verifies with the public key of
//     the certificate the server presented, and its sub is that
//     certificate's SPIFFE ID.
//   - ConnectionOwner (server): the sub of segment 0's token (the client) on
//     a connection's first Request is recorded in its server metadata; a
//     later Request or Close naming another identity in segment 0 is denied
//     with both identities named, so a member that learned a connection's
//     path can neither close nor re-request it. Heals from the same client,
//     re-requests through another forwarder, passthroughs (segment 0 stays
//     the client), an nsmgr that restarted (no metadata: the next Request
//     records again) and begin's events (the timeout's Close: the stored
//     connection with the last Request's context) keep the owner and pass.
//     Needs begin before the element. See ConnectionOwner for what it can
//     and cannot tell at hops after the first.
//
// User policies: WithAdditionalPolicies adds policies after the defaults,
// which stay the fast path; they run only when the defaults allow. Rego
// policies (sdk/tools/opa, opa.ConnectionPolicies) plug in there. A policy
// error that is a gRPC status keeps its code (opa: Internal when a policy
// cannot be evaluated); any other error denies with PermissionDenied.
//
// The two signature policies need a TLS peer certificate. Without one (a
// plaintext connection, allowed in tests and the in-process sandbox only) they
// cannot apply and pass; mandatory mTLS (issue 4) closes that gap. Without
// them a token's sub is only a claim, and so is the owner ConnectionOwner
// compares.
//
// Server guarantees: before the rest of the chain runs, on Request and Close,
// the left side of the path (path[:index+1], what this hop has been given) is
// checked; a denial is codes.PermissionDenied naming the failing policy and
// the reason, and nothing further runs. An index outside the path is
// codes.InvalidArgument.
//
// Client guarantees: after the rest of the chain returned a connection, the
// whole path is checked with the server's certificate (the element adds a
// grpc.Peer call option, so the element that makes the gRPC call must pass
// call options on). On a denial the new connection is closed and
// codes.PermissionDenied returned; a denied refresh is not closed, the
// connection keeps its last good state. Telling the two apart needs begin
// before this element (without begin every Request counts as new).
//
// Placement: server right after updatetoken; client just before the element
// that makes the gRPC call (upstream: before trimpath and connect).
package authorize
