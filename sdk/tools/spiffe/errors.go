// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package spiffe

import "errors"

// Errors returned by this package, wrapped with details; test with errors.Is.
var (
	// ErrNoIdentity: the environment names no identity and does not ask for
	// plaintext either.
	ErrNoIdentity = errors.New("spiffe: no identity")
	// ErrConflict: the environment names more than one identity source.
	ErrConflict = errors.New("spiffe: conflicting identity settings")
	// ErrBadConfig: an identity variable has a value that cannot work.
	ErrBadConfig = errors.New("spiffe: bad identity setting")
	// ErrSVID: an SVID is incomplete, or the SVID directory's files are
	// missing, unreadable or do not belong together (key not matching the
	// certificate, certificate not signed by the bundle, expired).
	ErrSVID = errors.New("spiffe: bad SVID")
	// ErrWorkloadAPI: no SVID could be fetched from the Workload API.
	ErrWorkloadAPI = errors.New("spiffe: workload API")
	// ErrKey: the SVID's private key cannot sign path tokens (they are ES256,
	// so the key must be ECDSA P-256).
	ErrKey = errors.New("spiffe: SVID key cannot sign tokens")
	// ErrClosed: the source was closed.
	ErrClosed = errors.New("spiffe: source closed")
)
