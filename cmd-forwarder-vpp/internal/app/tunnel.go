// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package app

import (
	"fmt"
	"net"

	"github.com/sirupsen/logrus"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	vxlanmech "github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/vxlan"
	wgmech "github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/wireguard"
	"github.com/nsmesh/nsmesh/cmd-forwarder-vpp/internal/config"
	"github.com/nsmesh/nsmesh/sdk/dataplane/vpp/vppxc"
	"github.com/nsmesh/nsmesh/sdk/networkservice/mechanisms/vxlan"
	"github.com/nsmesh/nsmesh/sdk/networkservice/mechanisms/wireguard"
)

// tunnels is what the forwarder needs for connections to other nodes.
type tunnels struct {
	// servers accept tunnels from other nodes' forwarders, by type.
	servers map[string]networkservice.NetworkServiceServer
	// offer proposes a tunnel to the next node: WireGuard for IP payload,
	// VXLAN for ETHERNET payload or when the connection asks for it; nil
	// without a tunnel address.
	offer networkservice.NetworkServiceClient
	// dpOpts give the data plane the tunnel address, the VXLAN port and the
	// WireGuard keys.
	dpOpts []vppxc.Option
}

// newTunnels builds the remote mechanisms on tunnel address ip; without an
// address the forwarder serves local connections only.
func newTunnels(cfg *config.Config, ip net.IP, log logrus.FieldLogger) (*tunnels, error) {
	t := &tunnels{servers: map[string]networkservice.NetworkServiceServer{}}
	if ip == nil {
		log.Warn("no NSM_TUNNEL_IP: only local (KERNEL to KERNEL) connections are served")
		return t, nil
	}
	t.dpOpts = append(t.dpOpts, vppxc.WithTunnelIP(ip), vppxc.WithVxlanPort(cfg.VxlanPort))
	t.servers[vxlanmech.MECHANISM] = vxlan.NewServer(ip, cfg.VxlanPort)
	var offerWG networkservice.NetworkServiceClient
	if cfg.WireguardPorts != (wireguard.PortRange{}) {
		// One allocator of ports and per-connection keys, shared by both
		// directions of the negotiation and by the data plane, which looks
		// the private keys up in it.
		alloc, err := wireguard.NewAllocator(cfg.WireguardPorts)
		if err != nil {
			return nil, fmt.Errorf("app: %w", err)
		}
		server, err := wireguard.NewServer(ip, alloc)
		if err != nil {
			return nil, fmt.Errorf("app: %w", err)
		}
		if offerWG, err = wireguard.NewClient(ip, alloc); err != nil {
			return nil, fmt.Errorf("app: %w", err)
		}
		t.servers[wgmech.MECHANISM] = server
		t.dpOpts = append(t.dpOpts, vppxc.WithWireGuard(alloc))
	}
	var opts []wireguard.SelectOption
	if cfg.VxlanFallback {
		opts = append(opts, wireguard.WithPlainFallback())
	}
	t.offer = wireguard.NewSelectClient(offerWG, vxlan.NewClient(ip, cfg.VxlanPort), vxlanmech.MECHANISM, opts...)
	entry := log.WithFields(logrus.Fields{"tunnel_ip": ip.String(), "vxlan_port": cfg.VxlanPort})
	if offerWG == nil {
		entry.Warn("WireGuard disabled (NSM_WIREGUARD_PORTS is empty): remote connections are not encrypted")
	} else {
		entry.WithFields(logrus.Fields{"wireguard_ports": cfg.WireguardPorts.String(), "vxlan_fallback": cfg.VxlanFallback}).
			Info("remote connections: WireGuard for IP payload, VXLAN for ETHERNET payload or label " + wireguard.MechanismLabel + "=vxlan")
	}
	return t, nil
}
