// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package begin serialises the registry calls of each registration name and
// lets elements inject later events (refresh, expiry, re-registration) into
// the chain. It is the registry counterpart of sdk/core/begin.
//
// Guarantees:
//   - Exclusivity: Register and Unregister calls for one name, including events
//     from the EventFactory, run one at a time and in arrival order; different
//     names run in parallel. Find is not serialised.
//   - Metadata: each name gets one metadata.Map (metadata.Server on servers,
//     metadata.Client on clients), created on its first Register, dropped when
//     that Register fails and after Unregister.
//   - Unregister passes the last registration the chain returned (not the
//     caller's copy) to the rest of the chain. An Unregister for a name begin
//     does not hold still goes down the chain with the caller's copy, so that a
//     registration made before a restart can be removed; it is idempotent.
//   - Events run with the values of the last successful Register's context
//     (peer, metadata, ...) but not its cancellation, and with the timeout that
//     Register had (DefaultEventTimeout when it had none).
//   - An event with If(cond) runs only when cond, evaluated under the name's
//     lock, holds; elements use it to drop timers that a newer call replaced.
//   - A Register without a name fails with InvalidArgument.
//
// Placement: servers put it after grpcmetadata and updatepath and before every
// element that keeps per-name state (expire, localbypass); clients put it
// first. The prebuilt chains in sdk/registry/chains place it.
package begin
