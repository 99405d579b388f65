// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package token makes, reads and checks the path tokens of the mesh.
//
// Every hop of a connection signs a JWT for the hop it talks to and sends it
// in the gRPC metadata of each call (keys MetadataKey and MetadataExpiresKey,
// wire-compatible with upstream NSM). The receiving hop copies it into the
// caller's path segment, and the authorize policies check the chain of tokens.
//
// Token format (as upstream spiffejwt): ES256, claims sub (the signer's SPIFFE
// ID), aud ([the peer's SPIFFE ID], only when the peer's TLS certificate is
// known) and exp. There is no iss, iat or nbf.
//
// Generator is the seam for signers: JWTGenerator signs with a fixed key; the
// SPIFFE signer that follows SVID rotation implements Generator with Sign and
// PeerCertificate from this package.
package token
