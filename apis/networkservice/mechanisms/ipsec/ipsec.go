// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package ipsec describes the REMOTE/IPSEC mechanism. It uses the same
// parameter keys as WireGuard; src_public_key and dst_public_key carry the
// IKE public keys of the two sides, in whatever text form the data plane
// uses, so they are handled as opaque strings.
package ipsec

import (
	"net"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/cls"
	"github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/common"
	"github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/internal/params"
)

const (
	// MECHANISM is the Mechanism.type of IPsec tunnels.
	MECHANISM = "IPSEC"

	// SrcIP is the client-side tunnel address.
	SrcIP = common.SrcIP
	// DstIP is the endpoint-side tunnel address.
	DstIP = common.DstIP
	// SrcPort is the client-side UDP port.
	SrcPort = common.SrcPort
	// DstPort is the endpoint-side UDP port.
	DstPort = common.DstPort
	// SrcPublicKey is the client side's public key.
	SrcPublicKey = "src_public_key"
	// DstPublicKey is the endpoint side's public key.
	DstPublicKey = "dst_public_key"
	// MTU is the tunnel MTU.
	MTU = common.MTU
)

// Mechanism is a typed view of an IPSEC mechanism.
type Mechanism struct {
	common.Tunnel
}

// New returns a REMOTE/IPSEC mechanism offered from srcIP.
func New(srcIP net.IP) *networkservice.Mechanism {
	m := &networkservice.Mechanism{Cls: cls.REMOTE, Type: MECHANISM}
	params.SetIP(m, SrcIP, srcIP)
	return m
}

// ToMechanism returns the IPsec view of m, or nil when m is not IPSEC.
func ToMechanism(m *networkservice.Mechanism) *Mechanism {
	if m.GetType() != MECHANISM {
		return nil
	}
	return &Mechanism{Tunnel: common.NewTunnel(m)}
}

// SrcPublicKey returns the client side's public key.
func (i *Mechanism) SrcPublicKey() string { return params.String(i.Mechanism(), SrcPublicKey) }

// SetSrcPublicKey sets the client side's public key.
func (i *Mechanism) SetSrcPublicKey(k string) { params.SetString(i.Mechanism(), SrcPublicKey, k) }

// DstPublicKey returns the endpoint side's public key.
func (i *Mechanism) DstPublicKey() string { return params.String(i.Mechanism(), DstPublicKey) }

// SetDstPublicKey sets the endpoint side's public key.
func (i *Mechanism) SetDstPublicKey(k string) { params.SetString(i.Mechanism(), DstPublicKey, k) }
