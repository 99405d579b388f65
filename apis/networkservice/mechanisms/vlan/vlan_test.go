// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package vlan_test

import (
	"testing"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/vlan"
)

func TestVlanID(t *testing.T) {
	raw := &networkservice.Mechanism{Type: "VLAN"}
	v := vlan.ToMechanism(raw)
	if id, err := v.VlanID(); id != 0 || err != nil {
		t.Errorf("unset VlanID = %d, %v", id, err)
	}
	if err := v.SetVlanID(4095); err != nil || raw.Parameters["vlan-id"] != "4095" {
		t.Errorf("SetVlanID(4095): %v, %v", err, raw.Parameters)
	}
	if err := v.SetVlanID(4096); err == nil {
		t.Error("SetVlanID(4096) must fail")
	}
	for value, ok := range map[string]bool{"100": true, "4096": false, "x": false, "-1": false} {
		raw.Parameters["vlan-id"] = value
		if _, err := v.VlanID(); (err == nil) != ok {
			t.Errorf("vlan-id=%q: err = %v", value, err)
		}
	}
	if vlan.ToMechanism(&networkservice.Mechanism{Type: "KERNEL"}) != nil || v.Mechanism() != raw {
		t.Error("ToMechanism must select VLAN and wrap it")
	}
}
