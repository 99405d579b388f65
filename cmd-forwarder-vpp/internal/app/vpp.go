// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/sirupsen/logrus"

	"github.com/nsmesh/nsmesh/cmd-forwarder-vpp/internal/config"
	"github.com/nsmesh/nsmesh/cmd-forwarder-vpp/internal/vppstart"
)

// vppTarget is the VPP the forwarder programs.
type vppTarget struct {
	// socket is the API socket to dial.
	socket string
	// local is the VPP this process started; nil when attached to an
	// external one.
	local *vppstart.VPP
}

// startOrAttach picks the VPP as upstream's forwarder does: the external VPP
// when its API socket exists at start, else a local VPP started as a child
// process (which ends with ctx).
func startOrAttach(ctx context.Context, cfg config.VPP, log logrus.FieldLogger) (*vppTarget, error) {
	st, err := os.Stat(cfg.APISocket)
	switch {
	case err == nil && st.Mode().Type() != fs.ModeSocket:
		return nil, fmt.Errorf("app: NSM_VPP_API_SOCKET=%s exists but is not a socket", cfg.APISocket)
	case err == nil:
		log.WithField("api_socket", cfg.APISocket).Info("attaching to the external VPP")
		return &vppTarget{socket: cfg.APISocket}, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("app: NSM_VPP_API_SOCKET: %w", err)
	}
	p := vppstart.DefaultParams(cfg.RootDir)
	v, err := vppstart.Start(ctx, cfg.Binary, p, log)
	switch {
	case errors.Is(err, vppstart.ErrNoBinary):
		return nil, fmt.Errorf("app: no VPP: nothing to attach to at NSM_VPP_API_SOCKET=%s and none to start (NSM_VPP_BINARY=%s not found); "+
			"mount an external VPP's API socket there or install VPP (the image does not contain it)", cfg.APISocket, cfg.Binary)
	case errors.Is(err, vppstart.ErrSocketInUse):
		return nil, fmt.Errorf("app: a VPP already serves %s: attach to it with NSM_VPP_API_SOCKET=%s, or start the local one under another NSM_VPP_ROOT_DIR",
			p.APISocket(), p.APISocket())
	case err != nil:
		return nil, fmt.Errorf("app: local VPP: %w", err)
	}
	return &vppTarget{socket: p.APISocket(), local: v}, nil
}
