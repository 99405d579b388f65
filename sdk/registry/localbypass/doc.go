// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package localbypass lets an nsmgr register its local endpoints under its
// own URL while handing their real URLs to local callers.
//
// Guarantees:
//   - Register remembers the endpoint's real URL and sends the nsmgr's URL
//     down the chain (to the central registry); the caller gets its real URL
//     back. Unregister sends the nsmgr's URL as well and forgets the name.
//   - Find: an entry whose name is known locally carries its real URL; an
//     entry that carries the nsmgr's URL but is not known locally (left over
//     from before an nsmgr restart) is hidden; other entries pass unchanged.
//     A query for the nsmgr's URL therefore finds the endpoints registered
//     through this nsmgr.
//
// Placement: in the nsmgr's endpoint server chain after expire and before the
// upstream connection (or the memory store).
package localbypass
