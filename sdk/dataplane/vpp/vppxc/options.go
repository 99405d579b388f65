// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package vppxc

import (
	"context"
	"net"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/dataplane/kernel"
	"github.com/nsmesh/nsmesh/sdk/networkservice/mechanisms/wireguard"
)

const (
	// DefaultOwner is the owner written into interface tags when WithOwner
	// is not given.
	DefaultOwner = "forwarder-vpp"
	// DefaultAdoptionGrace is how long interfaces left by an earlier run
	// are kept for adoption; it matches the default maximum token
	// lifetime, within which every live connection is refreshed.
	DefaultAdoptionGrace = 10 * time.Minute
	// DefaultVxlanPort is the VXLAN UDP port when the mechanism has none.
	DefaultVxlanPort = 4789
	// DefaultUnderlayMTU is the uplink MTU tunnels are sized for.
	DefaultUnderlayMTU = 1500
	// DefaultMTU is the MTU of local (KERNEL to KERNEL) connections whose
	// context sets none.
	DefaultMTU = 1500
	// DefaultWireGuardKeepalive is the persistent keepalive of WireGuard
	// peers.
	DefaultWireGuardKeepalive = 10 * time.Second
)

// Option configures New.
type Option func(*options)

// configureFunc applies a connection context inside a workload namespace.
type configureFunc func(ctx context.Context, log logrus.FieldLogger, ns *kernel.NetNS, name string,
	side kernel.Side, cc *networkservice.ConnectionContext) error

type options struct {
	owner       string
	logger      logrus.FieldLogger
	tunnelIP    net.IP
	vxlanPort   uint16
	wgKeys      wireguard.PrivateKeys
	keepalive   time.Duration
	underlayMTU int
	grace       time.Duration
	configure   configureFunc
}

// WithOwner sets the owner written into the tag of every interface (default
// DefaultOwner), normally the forwarder's name. Two forwarders sharing a VPP
// must have different owners: each prunes only its own interfaces. At most
// MaxOwnerLen printable ASCII characters, no ':'.
func WithOwner(name string) Option { return func(o *options) { o.owner = name } }

// WithLogger sets the logger (fields conn, vppapi, duration, ...).
func WithLogger(l logrus.FieldLogger) Option { return func(o *options) { o.logger = l } }

// WithTunnelIP sets this forwarder's tunnel address: a tunnel mechanism
// whose local end (src_ip on the client's node, dst_ip on the endpoint's)
// is another address is refused rather than programmed with an address VPP
// does not have.
func WithTunnelIP(ip net.IP) Option { return func(o *options) { o.tunnelIP = ip } }

// WithVxlanPort sets the VXLAN UDP port used when the mechanism names none
// (default DefaultVxlanPort).
func WithVxlanPort(port uint16) Option { return func(o *options) { o.vxlanPort = port } }

// WithWireGuard enables WIREGUARD: alloc is the forwarder's allocator,
// shared with its wireguard mechanism elements, where the private key behind
// each published public key is looked up.
func WithWireGuard(alloc *wireguard.Allocator) Option {
	return func(o *options) {
		if alloc != nil {
			o.wgKeys = alloc
		}
	}
}

// WithWireGuardKeepalive sets the persistent keepalive of WireGuard peers
// (default DefaultWireGuardKeepalive; 0 turns it off).
func WithWireGuardKeepalive(d time.Duration) Option { return func(o *options) { o.keepalive = d } }

// WithUnderlayMTU sets the MTU of the uplink that carries tunnels (default
// DefaultUnderlayMTU); a tunnel's MTU is this minus its encapsulation.
func WithUnderlayMTU(mtu int) Option { return func(o *options) { o.underlayMTU = mtu } }

// WithAdoptionGrace sets how long interfaces of an earlier run are kept for
// adoption before the unclaimed ones are pruned (default
// DefaultAdoptionGrace); 0 prunes them in New.
func WithAdoptionGrace(d time.Duration) Option { return func(o *options) { o.grace = d } }
