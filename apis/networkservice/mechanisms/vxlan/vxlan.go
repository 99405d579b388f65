// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package vxlan describes the REMOTE/VXLAN mechanism between two forwarders.
//
// Both forwarders of a node pair may allocate VNIs for tunnels between the
// same two addresses; to keep them from colliding without coordination, the
// side with the lower address uses even VNIs and the other side odd ones
// (EvenVNI).
package vxlan

import (
	"bytes"
	"fmt"
	"net"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/cls"
	"github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/common"
	"github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/internal/params"
)

const (
	// MECHANISM is the Mechanism.type of VXLAN tunnels.
	MECHANISM = "VXLAN"

	// SrcIP is the client-side tunnel address.
	SrcIP = common.SrcIP
	// DstIP is the endpoint-side tunnel address.
	DstIP = common.DstIP
	// SrcPort is the client-side UDP port.
	SrcPort = common.SrcPort
	// DstPort is the endpoint-side UDP port.
	DstPort = common.DstPort
	// SrcOriginalIP is the client-side address before NAT.
	SrcOriginalIP = common.SrcOriginalIP
	// DstOriginalIP is the endpoint-side address before NAT.
	DstOriginalIP = common.DstOriginalIP
	// VNI is the 24-bit VXLAN network identifier in decimal.
	VNI = "vni"
	// MTU is the tunnel MTU.
	MTU = common.MTU

	// MaxVNI is the largest 24-bit VNI.
	MaxVNI = 1<<24 - 1
)

// Mechanism is a typed view of a VXLAN mechanism.
type Mechanism struct {
	common.Tunnel
}

// New returns a REMOTE/VXLAN mechanism offered from srcIP.
func New(srcIP net.IP) *networkservice.Mechanism {
	m := &networkservice.Mechanism{Cls: cls.REMOTE, Type: MECHANISM}
	params.SetIP(m, SrcIP, srcIP)
	return m
}

// ToMechanism returns the VXLAN view of m, or nil when m is not VXLAN.
func ToMechanism(m *networkservice.Mechanism) *Mechanism {
	if m.GetType() != MECHANISM {
		return nil
	}
	return &Mechanism{Tunnel: common.NewTunnel(m)}
}

// VNI returns the VNI, 0 when none was chosen yet.
func (v *Mechanism) VNI() (uint32, error) {
	n, err := params.Uint(v.Mechanism(), VNI, 24)
	return uint32(n), err
}

// SetVNI sets the VNI.
func (v *Mechanism) SetVNI(vni uint32) error {
	if vni > MaxVNI {
		return fmt.Errorf("vxlan: VNI %d does not fit in 24 bits", vni)
	}
	params.SetUint(v.Mechanism(), VNI, uint64(vni))
	return nil
}

// EvenVNI reports whether the VNI for this mechanism must be even, comparing
// the pre-NAT addresses when present (both sides see the same pair then).
func (v *Mechanism) EvenVNI() bool {
	src := v.SrcOriginalIP()
	if src == nil {
		src = v.SrcIP()
	}
	dst := v.DstOriginalIP()
	if dst == nil {
		dst = v.DstIP()
	}
	return EvenVNI(src, dst)
}

// EvenVNI is the parity rule: even when src <= dst (compared as 16-byte
// addresses), odd otherwise. A missing src counts as lowest and a missing dst
// as highest, so a half-negotiated mechanism gets a stable answer.
func EvenVNI(src, dst net.IP) bool {
	switch {
	case src == nil:
		return true
	case dst == nil:
		return false
	}
	return bytes.Compare(src.To16(), dst.To16()) <= 0
}

// ValidVNIParity reports whether vni has the parity EvenVNI demands.
func (v *Mechanism) ValidVNIParity(vni uint32) bool {
	return (vni%2 == 0) == v.EvenVNI()
}
