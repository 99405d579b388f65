// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package adapters places registry clients in server chains and registry
// servers in client chains, as sdk/core/adapters does for network service
// chains.
//
//   - NSClientToServer / NSEClientToServer run a client element (or a whole
//     client chain, e.g. one ending in connect to forward to another
//     registry) as a server element. Its successor is the rest of the server
//     chain. Find results of the client are sent on the server stream until
//     the client stream ends.
//   - NSServerToClient / NSEServerToClient run a server element or chain in
//     process as a client: an nsmgr or a test uses a registry server chain
//     this way. Find runs the server in a goroutine that sends into a
//     channel the returned stream reads; the goroutine ends when the server's
//     Find returns or the caller's context is done. gRPC call options stop at
//     the adapter.
//
// Outside a chain, or last in one, an adapter ends the call as a chain's tail
// does.
package adapters
