// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package payload names what a network service carries, the values of
// Connection.payload and registry NetworkService.payload.
package payload

const (
	// IP services carry layer-3 packets.
	IP = "IP"
	// Ethernet services carry layer-2 frames.
	Ethernet = "ETHERNET"
)
