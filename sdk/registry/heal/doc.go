// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package heal registers a network service or endpoint again when the
// registry loses it, e.g. because the registry or the nsmgr in between
// restarted.
//
// Guarantees:
//   - After each successful Register, heal watches the name (Find with
//     watch=true on the name) through the rest of the chain; until the watch
//     first answers it also looks (Find without watch) every 200 ms whether
//     the registry holds the name. When the registration is missing, the
//     stream breaks, or it reports the registration deleted (it expired or
//     someone removed it), heal re-registers through begin's EventFactory, so the
//     re-registration is serialised with the caller's calls and passes the
//     whole chain again (retry, refresh, ...).
//   - Failed re-registrations are tried again after a jittered backoff that
//     grows from WithBackoff's minimum to its maximum (100 ms to 5 s), until
//     one succeeds, the name is unregistered or the constructor's context is
//     done.
//   - Unregister stops the watch before the registration is removed, so the
//     caller's own Unregister is not healed. Each Register replaces the
//     watch of the one before; no watch outlives the constructor's context.
//
// Placement: in client chains after begin and retry (it needs begin's events
// and metadata; without begin, Register fails with FailedPrecondition).
package heal
