// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package spiffe gives an nsmesh process its SPIFFE identity and turns it
// into what its gRPC servers and clients need: mutual-TLS transport
// credentials, a path-token generator signing with the SVID's key, and the
// per-RPC credentials sending those tokens.
//
// Sources (each a Source: the current X.509-SVID and the trust bundles):
//   - the SPIFFE Workload API (NewWorkloadSource; SPIFFE_ENDPOINT_SOCKET, a
//     SPIRE agent in production). The agent pushes rotated SVIDs itself.
//   - an SVID directory on disk (NewFileSource; NSM_SVID_DIR with SVIDFile,
//     KeyFile and BundleFile, as `nsmctl devca` writes them). The files are
//     polled and reloaded when they change; a half-written rotation is
//     skipped until the three files agree again.
//   - memory (NewMemorySource; tests and the in-process sandbox).
//
// Guarantees (of an Identity, which binaries and the sandbox use):
//   - Every TLS handshake presents the SVID current at that moment, so a
//     rotation takes effect without a restart.
//   - Path tokens for a peer on a TLS connection are signed with the SVID
//     presented on that connection, so the peer can always verify them
//     against the certificate it saw, across rotations; a connection still
//     on a rotated SVID is closed before that SVID expires (gRPC reconnects
//     with the current one). Upstream NSM suffered from exactly this
//     mismatch (tokens from the new key over a connection with the old
//     certificate) and worked around it with per-request connections.
//   - Servers require a client certificate and do not resume sessions;
//     both sides accept any peer whose SVID verifies against the bundle of
//     the peer's trust domain (so only members of trust domains in the
//     bundle), TLS 1.2 or newer. Refused handshakes are logged by the
//     server with the reason.
//   - Tokens are ES256 with the SVID's P-256 key, sub = the SVID's SPIFFE
//     ID, aud = the peer's SPIFFE ID and exp at most the SVID's NotAfter.
//
// Configuration (FromEnv) is shared by every binary: exactly one of
// SPIFFE_ENDPOINT_SOCKET, NSM_SVID_DIR or NSM_INSECURE=true. Without any,
// FromEnv returns ErrNoIdentity and the binary refuses to start. Open turns
// a Config into an Identity.
package spiffe
