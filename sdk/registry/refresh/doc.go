// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package refresh keeps an endpoint registration alive by registering it again
// before it expires.
//
// Guarantees:
//   - After each successful Register whose answer has an expiration_time,
//     a refresh is due at 2/3 of the time left until it; it runs as a begin
//     event, so it is serialised with the caller's own calls for the name,
//     and it replaces the timer of any earlier Register. Unregister stops it.
//   - A refresh asks for the lifetime the registrant asked for: the duration
//     between its own Register and the expiration_time it sent, or none (the
//     registry's default) when it sent none. Sending back the answer of the
//     last Register (which carries the registry's expiration_time) counts as
//     asking again for the same lifetime, not for that instant.
//   - A refresh that fails is tried again after a short pause (at most a third
//     of the time left) until it succeeds, the name is unregistered or the
//     constructor's context is done.
//
// Placement: in endpoint client chains after begin (it needs begin's events
// and metadata; without begin, Register fails with FailedPrecondition) and
// after retry.
package refresh
