// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package noop names the NOOP mechanism: a connection that needs no data
// plane work at all (control-plane only services and tests).
package noop

// MECHANISM is the Mechanism.type of connections without a data plane.
const MECHANISM = "NOOP"
