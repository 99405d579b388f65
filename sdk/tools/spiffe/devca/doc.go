// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package devca is a development SPIFFE certificate authority: it makes a
// trust domain (a self-signed ECDSA P-256 CA) and issues X.509-SVIDs from
// it, in memory or into the SVID directories that spiffe.NewFileSource
// (NSM_SVID_DIR) reads. `nsmctl devca`, the tests and the sandbox share it.
//
// It is not a production CA: there is no revocation, the CA key sits in a
// file, and anyone who can read that file can mint identities. Production
// meshes get their SVIDs from SPIRE through the Workload API.
//
// Guarantees: SVIDs carry exactly one URI SAN (the SPIFFE ID), key usage
// digitalSignature, extended key usage server and client auth, and never
// outlive the CA; keys are written 0600 and every file is replaced
// atomically, so a process polling an SVID directory sees a rotation as a
// whole or not yet.
package devca
