// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package connect joins a hop's server chain to the next hop.
//
// NewServer is the passthrough bridge of a server chain (nsmgr, forwarder,
// passthrough NSE):
//   - Request runs the embedded client chain first, puts the connection it
//     returns into the request and continues the server chain with it.
//   - If the rest of the server chain then fails, the client connection is
//     closed again (with the request's values but not its cancellation), so
//     a failed Request leaves nothing behind downstream.
//   - Close closes the client connection and continues the server chain,
//     even when the client Close fails; the first error is returned.
//
// NewClient is the terminal element of a client chain: it makes the real
// gRPC call on the conn that dial (or dial.NewFixedClient) stored for the
// connection, and reports codes.Unavailable when there is none.
package connect
