// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package vlan describes the VLAN mechanism: traffic tagged with an 802.1Q
// VLAN ID on a shared link.
package vlan

import (
	"fmt"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/internal/params"
)

const (
	// MECHANISM is the Mechanism.type of VLAN connections.
	MECHANISM = "VLAN"
	// ID is the key of the VLAN ID.
	ID = "vlan-id"
	// MaxID is the largest VLAN ID.
	MaxID = 4095
)

// Mechanism is a typed view of a VLAN mechanism.
type Mechanism struct {
	m *networkservice.Mechanism
}

// ToMechanism returns the VLAN view of m, or nil when m is not VLAN.
func ToMechanism(m *networkservice.Mechanism) *Mechanism {
	if m.GetType() != MECHANISM {
		return nil
	}
	return &Mechanism{m: m}
}

// Mechanism returns the wrapped mechanism.
func (v *Mechanism) Mechanism() *networkservice.Mechanism { return v.m }

// VlanID returns the VLAN ID, 0 when unset.
func (v *Mechanism) VlanID() (uint16, error) {
	n, err := params.Uint(v.m, ID, 16)
	if err == nil && n > MaxID {
		err = fmt.Errorf("vlan: parameter %s=%d is above %d", ID, n, MaxID)
	}
	if err != nil {
		return 0, err
	}
	return uint16(n), nil
}

// SetVlanID sets the VLAN ID.
func (v *Mechanism) SetVlanID(id uint16) error {
	if id > MaxID {
		return fmt.Errorf("vlan: VLAN ID %d is above %d", id, MaxID)
	}
	params.SetUint(v.m, ID, uint64(id))
	return nil
}
