// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package expire ends endpoint registrations that are not refreshed.
//
// Guarantees:
//   - Register sets expiration_time to the earliest of now + the default
//     expiration, the path tokens' expiry (updatepath.ExpiryFromContext) and
//     the expiration_time the registrant asked for, so a shorter value from
//     the endpoint is kept and a longer one is cut.
//   - When that time passes without a newer Register, the registration is
//     unregistered through the rest of the chain (watchers of a memory store
//     see deleted=true). A Register in between re-arms the timer; an
//     Unregister stops it.
//   - A failed refresh keeps the timer of the last good Register.
//   - Timers stop firing once the constructor's context is done.
//
// Placement: in endpoint server chains after begin (it needs begin's
// EventFactory and metadata; without begin a Register fails with
// FailedPrecondition) and before the store or the upstream connection.
package expire
