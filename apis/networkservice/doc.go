// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package networkservice holds the Go types of three upstream proto packages
// (connectioncontext, connection and networkservice) plus small hand-written
// helpers on them.
//
// The generated types are wire-compatible with upstream NSM api v1.15: proto
// package, message, field and service names and numbers are identical, and
// the files register under the same bare names (connection.proto ...), so a
// binary must not link both this package and upstream's.
//
// The helpers never panic on nil receivers or out-of-range path indexes:
// chain elements call them on whatever arrived over the wire.
package networkservice
