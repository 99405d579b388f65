// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package sandbox runs a whole mesh inside one test process on real gRPC: a
// registry on loopback TCP, nodes of an nsmgr (unix socket for its node,
// loopback TCP for other nodes) and forwarders with a fake data plane, and
// endpoints and clients on unix sockets. Every component signs its own path
// tokens with its own key and can be stopped and restarted on the same
// address, so scenario tests can exercise refresh, expiry, heal and restarts
// the way real deployments see them.
//
// Connections are plaintext with per-RPC token credentials; the mTLS variant
// comes with real SPIFFE identities.
package sandbox
