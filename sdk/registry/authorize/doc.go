// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package authorize applies policies to registrations, on registry servers
// and clients, for network services (NS) and endpoints (NSE) alike.
//
// The identity a call acts for is the resource id: the sub of the token in
// path[0] of the registry path (the original registrant; the token is parsed,
// not verified, as upstream does — the hop that received it checked it). A
// call without a token there acts for the anonymous identity "".
//
// Server guarantees (native defaults, in this order):
//   - CallerTokenSigned: when the caller presented a TLS certificate, its own
//     token in the path (at index-1) must be signed with that certificate's
//     key. Without TLS (development) it cannot apply.
//   - Ownership (FirstRegistrant): the first identity
//     that registers a name owns it. Only the owner may register it again
//     (refresh or change it) or unregister it; anyone else gets
//     codes.PermissionDenied naming the name, the owner and the caller, and
//     nothing further runs, so the registration stays as it was.
//   - A name is free again after a successful Unregister and once the
//     expiration_time of its last registration has passed (the expire
//     element then removes it; a newer owner's registration replaces it
//     first and expire's stale timer does nothing).
//   - Calls for one name are checked and carried out one at a time, so two
//     identities racing for a free name cannot both win.
//   - Further policies (WithAdditionalPolicies, e.g. Rego through
//     sdk/tools/opa) run after the native ones, only when those allow.
//   - Find is never checked.
//
// Limit: when a call was forwarded (index > 1), the registry cannot verify
// path[0]'s token, only the forwarding caller's. Which callers may forward
// for others is a deployment decision: deploy/policies/registry_forwarders.rego
// (NSM_REGISTRY_SERVER_POLICIES) lets only the nsmgrs do it. Upstream has
// the same limit and no such policy.
//
// Client guarantees: after Register returns, the policies check the returned
// path; a denied new registration is unregistered again and PermissionDenied
// returned; a denied refresh of a name this client registered before is not
// undone. Unregister is not checked. Clients have no default policies.
//
// Placement: servers right after updatepath (they need the path with the
// caller's token) and before begin; clients just before grpcmetadata.
package authorize
