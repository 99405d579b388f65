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
//     token in the path (at index-1, the nsm-client-token updatepath put
//     there) must be an ES256 JWT signed with that certificate's key, and its
//     sub must be the certificate's SPIFFE ID: a member of the trust domain
//     can sign tokens, but only tokens that name itself. Without TLS
//     (NSM_INSECURE, the plaintext sandbox) there is no certificate and it
//     cannot apply: a plaintext caller can claim any identity.
//   - TokensChained: every token up to and including this hop's own is a
//     JWT, and each token that names audiences names the sub of the next
//     hop's token (aud(i) contains sub(i+1)). The last link is the caller's
//     token against this hop's own (path[index], made by updatepath with the
//     registry's Generator): a caller's token made for another server is
//     refused. Tokens without aud (plaintext) and missing tokens (a hop
//     without a Generator) link to anything.
//   - Ownership (FirstRegistrant): the first identity
//     that registers a name owns it. Only the owner may register it again
//     (refresh or change it) or unregister it; anyone else gets
//     codes.PermissionDenied naming the name, the owner and the caller, and
//     nothing further runs, so the registration stays as it was.
//   - One exception, for network services only: another identity may
//     register a network service again exactly as the owner last
//     registered it: same name, payload and matches, either as the owner
//     sent them or as the chain answered (a registry client's heal
//     registers the answer, e.g. with the registry's default payload filled
//     in); path_ids do not count. Every endpoint serving a service registers
//     it, and this lets each keep it registered: each has a registration of
//     its own, which its registry client heals when the registry loses it
//     (a registry restart) even when the owner is gone. Such a call cannot
//     redefine the service and does not change the owner: a different
//     definition from another identity is denied as before, and so is its
//     Unregister; once the owner changed the definition, the old one is
//     denied too. Endpoints (an endpoint's name is its address) get no
//     exception.
//   - A name is free again after a successful Unregister and once the
//     expiration_time of its last registration has passed (the expire
//     element then removes it; a newer owner's registration replaces it
//     first and expire's stale timer does nothing). Network services have
//     no expiration_time: their owner is the owner until it unregisters them
//     or the registry restarts. Then the next to register the service,
//     typically another endpoint's registry heal re-registering it, is its
//     owner: a service the registry lost comes back while any endpoint that
//     registered it lives.
//   - Calls for one name are checked and carried out one at a time, so two
//     identities racing for a free name cannot both win.
//   - Further policies (WithAdditionalPolicies, e.g. Rego through
//     sdk/tools/opa) run after the native ones, only when those allow.
//   - Find is never checked.
//
// Why path[0]'s sub can be believed: a hop can verify only the token of its
// direct caller, the one signed with the key of the certificate it sees.
// Hop by hop, every server of the chain (the nsmgr's registry server, then
// the registry) does so for its caller, and the chained rule ties each
// verified token to the one before it: the registrant's token at path[0]
// was verified by hop 1 and names hop 1 as its audience; hop 1's token at
// path[1] was verified by hop 2 and names hop 2; and so on up to this
// server. So the owner in path[0] is backed by signatures transitively, as
// long as every forwarding hop runs these policies honestly. A direct caller
// (index 1) is fully verified here: its token is path[0].
//
// Limit: a forwarding hop is trusted to have done its check. A member that
// calls the registry itself with index > 1 can put in front of its own
// (verified) token a path[0] it signed itself, claiming another identity and
// naming itself as audience; the registry has no key to tell. Which callers
// may forward for others is a deployment decision:
// deploy/policies/registry_forwarders.rego (NSM_REGISTRY_SERVER_POLICIES)
// lets only the nsmgrs do it. Upstream has the same limit and no such
// policy.
//
// Client guarantees: after Register returns, the policies check the returned
// path; a denied new registration is unregistered again and PermissionDenied
// returned; a denied refresh of a name this client registered before is not
// undone. Unregister is not checked. Clients have no default policies.
//
// Placement: servers right after updatepath (they need the path with the
// caller's token) and before begin; clients just before grpcmetadata.
package authorize
