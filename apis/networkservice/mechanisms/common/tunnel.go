// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package common

import (
	"net"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/internal/params"
)

// Tunnel reads and writes the parameters shared by the IP tunnel mechanisms.
// It is embedded by the vxlan, wireguard and ipsec wrappers; it writes
// through to the wrapped mechanism. Numeric getters return 0 and no error for
// an absent parameter, and an error only for a malformed one.
type Tunnel struct {
	m *networkservice.Mechanism
}

// NewTunnel wraps m; it does not check m's type (the typed wrappers do).
func NewTunnel(m *networkservice.Mechanism) Tunnel {
	return Tunnel{m: m}
}

// Mechanism returns the wrapped mechanism.
func (t Tunnel) Mechanism() *networkservice.Mechanism { return t.m }

// SrcIP is the source address, nil when absent or malformed.
func (t Tunnel) SrcIP() net.IP { return params.IP(t.m, SrcIP) }

// SetSrcIP sets the source address; nil removes it.
func (t Tunnel) SetSrcIP(ip net.IP) { params.SetIP(t.m, SrcIP, ip) }

// DstIP is the destination address, nil when absent or malformed.
func (t Tunnel) DstIP() net.IP { return params.IP(t.m, DstIP) }

// SetDstIP sets the destination address; nil removes it.
func (t Tunnel) SetDstIP(ip net.IP) { params.SetIP(t.m, DstIP, ip) }

// SrcOriginalIP is the pre-NAT source address, nil when absent.
func (t Tunnel) SrcOriginalIP() net.IP { return params.IP(t.m, SrcOriginalIP) }

// SetSrcOriginalIP sets the pre-NAT source address; nil removes it.
func (t Tunnel) SetSrcOriginalIP(ip net.IP) { params.SetIP(t.m, SrcOriginalIP, ip) }

// DstOriginalIP is the pre-NAT destination address, nil when absent.
func (t Tunnel) DstOriginalIP() net.IP { return params.IP(t.m, DstOriginalIP) }

// SetDstOriginalIP sets the pre-NAT destination address; nil removes it.
func (t Tunnel) SetDstOriginalIP(ip net.IP) { params.SetIP(t.m, DstOriginalIP, ip) }

// SrcPort is the source UDP port.
func (t Tunnel) SrcPort() (uint16, error) {
	v, err := params.Uint(t.m, SrcPort, 16)
	return uint16(v), err
}

// SetSrcPort sets the source UDP port.
func (t Tunnel) SetSrcPort(port uint16) { params.SetUint(t.m, SrcPort, uint64(port)) }

// DstPort is the destination UDP port.
func (t Tunnel) DstPort() (uint16, error) {
	v, err := params.Uint(t.m, DstPort, 16)
	return uint16(v), err
}

// SetDstPort sets the destination UDP port.
func (t Tunnel) SetDstPort(port uint16) { params.SetUint(t.m, DstPort, uint64(port)) }

// MTU is the tunnel MTU.
func (t Tunnel) MTU() (uint32, error) {
	v, err := params.Uint(t.m, MTU, 32)
	return uint32(v), err
}

// SetMTU sets the tunnel MTU.
func (t Tunnel) SetMTU(mtu uint32) { params.SetUint(t.m, MTU, uint64(mtu)) }
