// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package chain links chain elements into one server or client.
//
// An element is any value implementing the gRPC interface it serves
// (networkservice.NetworkServiceServer, registry.NetworkServiceEndpointRegistryServer, ...).
// Elements that pass a call on embed a Link of that interface; the chain
// constructor hands each element its successor exactly once, when the chain is
// built, so a call costs one interface call per element and no context lookup.
//
// Guarantees:
//   - Order: elements run in the order they are listed; post-processing after
//     Next() runs in reverse order.
//   - Termination: the last element's successor is a tail that answers a
//     Request with the request's connection, a Close with Empty, a Register
//     with its input, a Find with no results.
//   - Nesting: a chain is itself an element. Placed inside another chain it
//     hands the call on to its outer successor after its own last element.
//   - An element instance belongs to one chain: linking it twice is a
//     programming error and panics with the element's type.
//   - Only the last element may lack a Link; elsewhere the chain would be cut
//     silently, so the constructor panics instead.
package chain
