// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package retry retries failed registry calls of a client chain.
//
// Guarantees:
//   - Register and Unregister run with a per-try timeout (WithTryTimeout,
//     15 s) and are tried again after WithInterval (200 ms) until one
//     succeeds or the caller's context is done; the last error is returned.
//   - Opening a Find is retried the same way; a stream that has opened is
//     the caller's (heal recreates watches that break).
//   - Errors that another try cannot fix (InvalidArgument, PermissionDenied,
//     Unauthenticated, Unimplemented, FailedPrecondition) are returned at
//     once.
//
// Placement: in client chains right after begin, so that events (refresh,
// re-registration) are retried too.
package retry
