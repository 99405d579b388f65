// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package app

import (
	"fmt"
	"net"

	"github.com/sirupsen/logrus"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/cmd-forwarder-vpp/internal/config"
	"github.com/nsmesh/nsmesh/sdk/chains/forwarder"
	"github.com/nsmesh/nsmesh/sdk/dataplane/vpp/vppxc"
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
	remote, err := forwarder.NewRemote(ip, cfg.VxlanPort, cfg.WireguardPorts, cfg.VxlanFallback, log)
	if err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	t.servers, t.offer = remote.Servers, remote.Offer
	if remote.WireGuard != nil {
		t.dpOpts = append(t.dpOpts, vppxc.WithWireGuard(remote.WireGuard))
	}
	return t, nil
}
