// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package app

import (
	"context"
	"net"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/nsmesh/nsmesh/cmd-forwarder-vpp/internal/config"
	"github.com/nsmesh/nsmesh/cmd-forwarder-vpp/internal/vppstart"
	"github.com/nsmesh/nsmesh/sdk/dataplane/vpp/vppinit"
)

// StartOrAttach exposes startOrAttach: the socket to dial and the local VPP
// (nil when attached).
func StartOrAttach(ctx context.Context, cfg config.VPP, log logrus.FieldLogger) (string, *vppstart.VPP, error) {
	t, err := startOrAttach(ctx, cfg, log)
	if err != nil {
		return "", nil, err
	}
	return t.socket, t.local, nil
}

// SetProbe changes how often VPP is pinged and how many failures in a row
// mean it is gone.
func SetProbe(every time.Duration, failures int) (restore func()) {
	oldEvery, oldFailures := probeEvery, probeFailures
	probeEvery, probeFailures = every, failures
	return func() { probeEvery, probeFailures = oldEvery, oldFailures }
}

// SetDiscoverUplink replaces how the uplink is read from the kernel.
func SetDiscoverUplink(f func(tunnelIP net.IP) (*vppinit.Uplink, error)) (restore func()) {
	old := discoverUplink
	discoverUplink = f
	return func() { discoverUplink = old }
}
