// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package forwarder

import (
	"errors"
	"fmt"
	"net"

	"github.com/sirupsen/logrus"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	vxlanmech "github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/vxlan"
	wgmech "github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/wireguard"
	"github.com/nsmesh/nsmesh/sdk/networkservice/mechanisms/vxlan"
	"github.com/nsmesh/nsmesh/sdk/networkservice/mechanisms/wireguard"
)

// Remote is what a forwarder needs for connections to other nodes,
// whatever its data plane.
type Remote struct {
	// Servers accept tunnels from other nodes' forwarders, by mechanism type:
	// always VXLAN, and WireGuard when it is enabled.
	Servers map[string]networkservice.NetworkServiceServer
	// Offer proposes a tunnel to the next node: WireGuard for IP payload,
	// VXLAN for ETHERNET payload or when the connection asks for it; for use
	// with WithRemoteMechanisms.
	Offer networkservice.NetworkServiceClient
	// WireGuard is the allocator of WireGuard ports and per-connection keys,
	// nil when WireGuard is disabled. The data plane looks the private keys
	// up in it, so it must be handed to the data plane (e.g.
	// kernelxc.WithWireGuard, vppxc.WithWireGuard).
	WireGuard *wireguard.Allocator
}

// NewRemote builds the remote mechanisms of a forwarder on tunnel address ip.
//
// It guarantees that:
//   - VXLAN is always served and offered on vxlanPort;
//   - WireGuard is served and offered on wgPorts unless wgPorts is the zero
//     range, and then one Allocator is shared by the server, the offering
//     client and (through Remote.WireGuard) the data plane;
//   - Offer proposes WireGuard for IP payload (followed by VXLAN when
//     fallback is set) and VXLAN for ETHERNET payload or when the
//     connection's label asks for it;
//   - one line is logged on log: a warning when WireGuard is disabled, the
//     chosen setup otherwise.
//
// A nil ip or an invalid non-zero port range is an error; nothing is logged
// then.
func NewRemote(ip net.IP, vxlanPort uint16, wgPorts wireguard.PortRange, fallback bool, log logrus.FieldLogger) (*Remote, error) {
	if ip == nil {
		return nil, errors.New("forwarder: remote mechanisms: no tunnel IP")
	}
	r := &Remote{Servers: map[string]networkservice.NetworkServiceServer{
		vxlanmech.MECHANISM: vxlan.NewServer(ip, vxlanPort),
	}}
	var offerWG networkservice.NetworkServiceClient
	if wgPorts != (wireguard.PortRange{}) {
		alloc, err := wireguard.NewAllocator(wgPorts)
		if err != nil {
			return nil, fmt.Errorf("forwarder: %w", err)
		}
		server, err := wireguard.NewServer(ip, alloc)
		if err != nil {
			return nil, fmt.Errorf("forwarder: %w", err)
		}
		if offerWG, err = wireguard.NewClient(ip, alloc); err != nil {
			return nil, fmt.Errorf("forwarder: %w", err)
		}
		r.Servers[wgmech.MECHANISM] = server
		r.WireGuard = alloc
	}
	var opts []wireguard.SelectOption
	if fallback {
		opts = append(opts, wireguard.WithPlainFallback())
	}
	r.Offer = wireguard.NewSelectClient(offerWG, vxlan.NewClient(ip, vxlanPort), vxlanmech.MECHANISM, opts...)
	entry := log.WithFields(logrus.Fields{"tunnel_ip": ip.String(), "vxlan_port": vxlanPort})
	if offerWG == nil {
		entry.Warn("WireGuard disabled (NSM_WIREGUARD_PORTS is empty): remote connections are not encrypted")
	} else {
		entry.WithFields(logrus.Fields{"wireguard_ports": wgPorts.String(), "vxlan_fallback": fallback}).
			Info("remote connections: WireGuard for IP payload, VXLAN for ETHERNET payload or label " + wireguard.MechanismLabel + "=vxlan")
	}
	return r, nil
}
