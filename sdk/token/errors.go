// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package token

import "errors"

// Errors returned by this package, wrapped with details; test with errors.Is.
var (
	// ErrMalformed: the string is not a JWT with JSON header and claims of the
	// expected types.
	ErrMalformed = errors.New("token: malformed")
	// ErrExpired: the token's exp is not after the time it was checked at.
	ErrExpired = errors.New("token: expired")
	// ErrNoExpiry: the token has no exp claim, so it would never expire.
	ErrNoExpiry = errors.New("token: no expiry")
	// ErrBadSignature: the signature does not verify with the given key.
	ErrBadSignature = errors.New("token: bad signature")
	// ErrAlgorithm: the token is not signed with ES256 (alg none and HMAC are
	// refused: a verifier holding a public key must never accept them).
	ErrAlgorithm = errors.New("token: signing algorithm not allowed")
	// ErrKey: the key is not a P-256 ECDSA key.
	ErrKey = errors.New("token: unsupported key")
	// ErrPeerID: the peer's certificate carries no usable SPIFFE ID.
	ErrPeerID = errors.New("token: peer certificate has no SPIFFE ID")
	// ErrMetadata: the token metadata of a call is incomplete, repeated or
	// unreadable.
	ErrMetadata = errors.New("token: bad metadata")
)
