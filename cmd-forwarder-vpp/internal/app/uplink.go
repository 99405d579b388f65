// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package app

import (
	"context"
	"fmt"
	"net"

	"github.com/sirupsen/logrus"
	"github.com/vishvananda/netlink"
	"go.fd.io/govpp/api"

	"github.com/nsmesh/nsmesh/cmd-forwarder-vpp/internal/config"
	"github.com/nsmesh/nsmesh/sdk/dataplane/vpp/vppinit"
	"github.com/nsmesh/nsmesh/sdk/networkservice/mechanisms/wireguard"
)

// discoverUplink reads the uplink from the forwarder's own network
// namespace (the node's: hostNetwork). Tests replace it.
var discoverUplink = func(tunnelIP net.IP) (*vppinit.Uplink, error) {
	h, err := netlink.NewHandle()
	if err != nil {
		return nil, fmt.Errorf("netlink: %w", err)
	}
	defer h.Close()
	return vppinit.Discover(h, tunnelIP)
}

// initUplink attaches VPP to the node's uplink (NSM_VPP_INIT=AF_PACKET) and
// returns the tunnel address and the uplink's MTU. The pinholes open the
// tunnel ports the forwarder negotiates.
func initUplink(ctx context.Context, cfg *config.Config, conn api.Connection, log logrus.FieldLogger) (*vppinit.Result, error) {
	up, err := discoverUplink(cfg.TunnelIP)
	if err != nil {
		return nil, fmt.Errorf("app: NSM_VPP_INIT=AF_PACKET: %w", err)
	}
	opts := []vppinit.Option{vppinit.WithLogger(log), vppinit.WithVxlanPort(cfg.VxlanPort)}
	if cfg.WireguardPorts != (wireguard.PortRange{}) {
		opts = append(opts, vppinit.WithWireGuardPorts(cfg.WireguardPorts.First, cfg.WireguardPorts.Last))
	}
	res, err := vppinit.Init(ctx, conn, up, opts...)
	if err != nil {
		return nil, fmt.Errorf("app: NSM_VPP_INIT=AF_PACKET on %s: %w", up.Name, err)
	}
	return res, nil
}
