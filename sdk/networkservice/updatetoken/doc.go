// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package updatetoken fills the tokens of the path (upstream NSM §2.2).
//
// Server guarantees, on Request and Close, before the rest of the chain runs:
//   - When there is a previous segment and the caller sent the token metadata
//     (token.MetadataKey, token.MetadataExpiresKey), path[index-1] holds that
//     token and expiry: the caller's token, sub = caller, aud = this hop.
//   - path[index] holds a fresh token of this hop, made with the caller's
//     AuthInfo (aud = caller), and its expiry.
//   - On Request, token metadata that is repeated, half present or unreadable
//     is refused with codes.Unauthenticated, and a failing generator with
//     codes.Internal (codes.Unauthenticated when the caller's certificate has
//     no SPIFFE ID). On Close these are logged and the Close goes on: tearing
//     down must not depend on tokens, and authorize still checks the caller.
//
// After a round trip every segment i but the last holds a token of hop i for
// hop i+1; the last holds the endpoint's own token for its caller.
//
// The client element is for the hop that starts a path (the NSC): before
// calling on it puts its own token into path[index], so that the path is
// complete even when nothing sends token metadata (in-process chains). That
// token has no audience, because the server's identity is only known inside
// the gRPC call; across gRPC the server replaces it with the token from the
// per-RPC credentials, which has one. In passthroughs the server element has
// already filled the shared segment, so the client element is not needed
// there (it does no harm either: the next hop replaces the token again).
//
// Placement: server right after begin (upstream order: updatepath, begin,
// updatetoken, authorize); client right after begin in the NSC's chain.
package updatetoken
