// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package wireguard describes the REMOTE/WIREGUARD mechanism: an encrypted
// tunnel between two forwarders whose public keys travel in the mechanism
// parameters (the client side fills src_*, the endpoint side dst_*).
package wireguard

import (
	"encoding/base64"
	"fmt"
	"net"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/cls"
	"github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/common"
	"github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/internal/params"
)

const (
	// MECHANISM is the Mechanism.type of WireGuard tunnels.
	MECHANISM = "WIREGUARD"

	// SrcIP is the client-side tunnel address.
	SrcIP = common.SrcIP
	// DstIP is the endpoint-side tunnel address.
	DstIP = common.DstIP
	// SrcPort is the client-side UDP port.
	SrcPort = common.SrcPort
	// DstPort is the endpoint-side UDP port.
	DstPort = common.DstPort
	// SrcPublicKey is the client side's public key (standard base64).
	SrcPublicKey = "src_public_key"
	// DstPublicKey is the endpoint side's public key (standard base64).
	DstPublicKey = "dst_public_key"
	// MTU is the tunnel MTU.
	MTU = common.MTU

	// KeyLen is the length of a Curve25519 key.
	KeyLen = 32
)

// Key is a WireGuard public or private key.
type Key [KeyLen]byte

// String returns the key in the standard base64 form used on the wire.
func (k Key) String() string { return base64.StdEncoding.EncodeToString(k[:]) }

// ParseKey decodes a standard-base64 WireGuard key.
func ParseKey(s string) (Key, error) {
	var k Key
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return k, fmt.Errorf("wireguard: key %q is not standard base64: %w", s, err)
	}
	if len(b) != KeyLen {
		return k, fmt.Errorf("wireguard: key %q decodes to %d bytes, want %d", s, len(b), KeyLen)
	}
	copy(k[:], b)
	return k, nil
}

// Mechanism is a typed view of a WIREGUARD mechanism.
type Mechanism struct {
	common.Tunnel
}

// New returns a REMOTE/WIREGUARD mechanism offered from srcIP with the
// client side's public key.
func New(srcIP net.IP, srcPublicKey Key) *networkservice.Mechanism {
	m := &networkservice.Mechanism{Cls: cls.REMOTE, Type: MECHANISM}
	params.SetIP(m, SrcIP, srcIP)
	params.SetString(m, SrcPublicKey, srcPublicKey.String())
	return m
}

// ToMechanism returns the WireGuard view of m, or nil when m is not WIREGUARD.
func ToMechanism(m *networkservice.Mechanism) *Mechanism {
	if m.GetType() != MECHANISM {
		return nil
	}
	return &Mechanism{Tunnel: common.NewTunnel(m)}
}

// SrcPublicKey returns the client side's public key.
func (w *Mechanism) SrcPublicKey() (Key, error) { return w.key(SrcPublicKey) }

// SetSrcPublicKey sets the client side's public key.
func (w *Mechanism) SetSrcPublicKey(k Key) { params.SetString(w.Mechanism(), SrcPublicKey, k.String()) }

// DstPublicKey returns the endpoint side's public key.
func (w *Mechanism) DstPublicKey() (Key, error) { return w.key(DstPublicKey) }

// SetDstPublicKey sets the endpoint side's public key.
func (w *Mechanism) SetDstPublicKey(k Key) { params.SetString(w.Mechanism(), DstPublicKey, k.String()) }

// key fails for an absent key too: unlike a port, a zero key is never usable.
func (w *Mechanism) key(param string) (Key, error) {
	s := params.String(w.Mechanism(), param)
	if s == "" {
		return Key{}, fmt.Errorf("wireguard: mechanism has no %s parameter", param)
	}
	return ParseKey(s)
}
