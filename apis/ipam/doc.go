// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package ipam holds the generated Go types of the upstream proto package
// ipam: the bidirectional ManagePrefixes stream that vL3 endpoints use to
// lease prefixes, wire-compatible with upstream NSM api v1.15 and
// registered under the bare file name ipam.proto.
package ipam
