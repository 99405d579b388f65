// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package vppinit

import "errors"

var (
	// ErrNoUplink: no link holds the tunnel address, or (without one) no
	// default route leads to a link with an address.
	ErrNoUplink = errors.New("no uplink")
	// ErrNotEthernet: the uplink has no 6-byte hardware address, which
	// af_packet in Ethernet mode needs.
	ErrNotEthernet = errors.New("uplink is not an Ethernet link")
)
