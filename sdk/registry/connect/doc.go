// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package connect is the end of a registry client chain: it picks the
// registry's URL, dials it and makes the gRPC call. It does the work of
// upstream's clienturl, dial and connect elements in one place, since nothing
// in our chains sits between them.
//
// Guarantees:
//   - The URL is the one given by WithURL, or else the client URL of the
//     context (sdk/tools/clienturlctx). WithURL wins, so that a registry
//     client called from a networkservice chain does not follow the next
//     hop's URL by accident. No URL is FailedPrecondition.
//   - One grpc.ClientConn per URL is shared by the calls of the element. A
//     registration holds it (in begin's client metadata) from Register to
//     Unregister, a Find until its stream ends or its context is done, any
//     other call for the call. Unused, it stays open for WithIdleTimeout so
//     that frequent Finds do not dial each time. When the constructor's
//     context is done all connections are closed (calls still running fail);
//     a later call, e.g. a final Unregister, dials anew for itself.
//   - Before each call the connection gets WithDialTimeout to become ready
//     (a failed connection is retried at once rather than after gRPC's
//     backoff); if it does not, the call fails with Unavailable naming the URL.
//   - Find streams end when the caller's context is done.
//
// Dial options must include transport credentials (grpc.NewClient insists);
// plaintext has to be asked for with insecure.NewCredentials().
package connect
