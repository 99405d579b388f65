// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package grpcmetadata carries the private registry path between hops in gRPC
// metadata, wire-compatible with upstream NSM.
//
// The path travels under the metadata key "path" as JSON
// {"Index":N,"PathSegments":[{"token":"..."}]}. The client appends it to the
// outgoing metadata of Register, Find and Unregister and, after Register and
// Unregister, copies the path the server sent back in the response header into
// the Path its context carries. The server parses the last "path" value (a bad
// one is InvalidArgument), hands a *Path to the rest of its chain through the
// context and sends the path back in the response header of Register and
// Unregister. Without metadata (an in-process call) the server uses the Path
// already in the context, or a new empty one.
//
// Placement: first in a registry server chain (before updatepath); just
// before connect in a client chain.
package grpcmetadata
