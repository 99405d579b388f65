// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package registry holds the generated Go types of the upstream proto
// package registry: network service and endpoint records and the two
// registry services (NetworkServiceRegistry and
// NetworkServiceEndpointRegistry), wire-compatible with upstream NSM api
// v1.15 and registered under the bare file name registry.proto.
package registry
