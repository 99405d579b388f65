// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package app

import (
	"context"
	"fmt"
	"time"

	"github.com/sirupsen/logrus"
	"go.fd.io/govpp/api"
	"go.fd.io/govpp/binapi/memclnt"
)

// A VPP that fails probeFailures control pings in a row, probeEvery apart,
// is gone: the connection does not reconnect (VPP lost every interface
// anyway), so the forwarder exits and its supervisor restarts it.
var (
	probeEvery    = 2 * time.Second
	probeFailures = 3
)

// watchVPP pings VPP until ctx ends; the channel receives an error when VPP
// stops answering. A local VPP's exit is noticed at once (Run); this is for
// an external VPP, and for a local one that hangs.
func watchVPP(ctx context.Context, conn api.Connection, log logrus.FieldLogger) <-chan error {
	lost := make(chan error, 1)
	go func() {
		ping := memclnt.NewServiceClient(conn)
		t := time.NewTicker(probeEvery)
		defer t.Stop()
		failed := 0
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			pctx, cancel := context.WithTimeout(ctx, probeEvery)
			_, err := ping.ControlPing(pctx, &memclnt.ControlPing{})
			cancel()
			switch {
			case ctx.Err() != nil:
				return
			case err == nil:
				if failed > 0 {
					log.WithField("failures", failed).Info("VPP answers again")
				}
				failed = 0
				continue
			}
			failed++
			log.WithError(err).WithField("failures", failed).Warn("VPP does not answer control_ping")
			if failed >= probeFailures {
				lost <- fmt.Errorf("app: VPP stopped answering: %d control pings in a row failed, the last: %w", failed, err)
				return
			}
		}
	}()
	return lost
}
