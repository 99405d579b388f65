// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package spiffe

import (
	"context"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
)

// WorkloadSource is a Source fed by the SPIFFE Workload API (a SPIRE
// agent): the agent pushes rotated SVIDs and bundles, and every handshake
// and token after that uses them.
type WorkloadSource struct {
	*workloadapi.X509Source
	updated chan struct{}
	cancel  context.CancelFunc
	done    chan struct{}
}

// NewWorkloadSource connects to the Workload API at socket (for example
// unix:///run/spire/sockets/agent.sock) and waits for the first SVID until
// ctx ends; an agent that has no registration entry for this workload yet
// is waited for (it is logged), not an error.
func NewWorkloadSource(ctx context.Context, socket string, opts ...Option) (*WorkloadSource, error) {
	o := applyOptions(opts)
	log := o.logger.WithField("spiffe_endpoint_socket", socket)
	if err := workloadapi.ValidateAddress(socket); err != nil {
		return nil, fmt.Errorf("%w: %s=%q: %w", ErrBadConfig, EnvEndpointSocket, socket, err)
	}
	log.Info("waiting for an X.509-SVID from the SPIFFE Workload API")
	start := time.Now()
	src, err := workloadapi.NewX509Source(ctx, workloadapi.WithClientOptions(
		workloadapi.WithAddr(socket),
		workloadapi.WithLogger(log)))
	if err != nil {
		return nil, fmt.Errorf("%w: no SVID from %s after %s: %w", ErrWorkloadAPI, socket, time.Since(start).Round(time.Millisecond), err)
	}
	watchCtx, cancel := context.WithCancel(ctx)
	s := &WorkloadSource{X509Source: src, updated: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{})}
	go s.logRotations(watchCtx, log)
	return s, nil
}

// Updated is sent on (without blocking; one pending signal at most) after
// each update from the agent.
func (s *WorkloadSource) Updated() <-chan struct{} { return s.updated }

// WaitUntilUpdated waits for the next update from the agent or the end of
// ctx.
func (s *WorkloadSource) WaitUntilUpdated(ctx context.Context) error {
	select {
	case <-s.updated:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// logRotations says when the agent pushed a new SVID, so that a rotation
// is visible in the logs of the process that uses it, and passes the
// signal on to Updated (the inner source's channel has one reader: this).
func (s *WorkloadSource) logRotations(ctx context.Context, log logrus.FieldLogger) {
	defer close(s.done)
	var last *x509.Certificate
	if svid, err := s.GetX509SVID(); err == nil {
		last = svid.Certificates[0]
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.X509Source.Updated():
		}
		select {
		case s.updated <- struct{}{}:
		default:
		}
		svid, err := s.GetX509SVID()
		if err != nil {
			continue
		}
		l := log.WithFields(logrus.Fields{"spiffe_id": svid.ID.String(), "not_after": svid.Certificates[0].NotAfter.UTC().Format(time.RFC3339)})
		if last != nil && svid.Certificates[0].Equal(last) {
			l.Debug("Workload API update (bundles)")
			continue
		}
		last = svid.Certificates[0]
		l.Info("SVID rotated by the Workload API")
	}
}

// Close stops the rotation log and the Workload API stream.
func (s *WorkloadSource) Close() error {
	s.cancel()
	<-s.done
	return s.X509Source.Close()
}
