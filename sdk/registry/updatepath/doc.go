// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package updatepath adds this hop to the registry path of a Register or
// Unregister and records the SPIFFE IDs of the path in path_ids.
//
// Guarantees (upstream NSM semantics):
//   - An empty path becomes [caller's token, own token] with Index 1. A path
//     that has segments moves Index one on, puts the caller's token at
//     Index-1 and puts the own token at Index, appending when needed.
//   - path_ids of the registration get the caller's token subject at Index-1
//     and the own token subject at Index; unknown subjects leave the entry as
//     it is (an empty string when the list had to grow).
//   - The caller's token is the nsm-client-token of the incoming gRPC
//     metadata; the own token is made by the Generator for the caller's
//     AuthInfo. With a nil Generator the own token is empty.
//   - ExpiryFromContext tells later elements (expire) when the earlier of the
//     two tokens runs out.
//   - After the rest of the chain returns, Index is restored to the caller's
//     value, so the caller sees its own position in the path it gets back.
//   - Find passes unchanged.
//
// It verifies nothing: that the caller's token is signed by the caller's
// certificate and names it, and that it was made for this server, is
// checked by sdk/registry/authorize (CallerTokenSigned, TokensChained),
// which comes right after it.
//
// Placement: right after grpcmetadata, which provides the Path.
package updatepath
