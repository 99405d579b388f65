// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package monitor

import (
	"time"

	"github.com/sirupsen/logrus"
)

// Option configures a monitor Server or Client.
type Option func(*options)

type options struct {
	logger logrus.FieldLogger
	// endpointProbe > 0 closes connections whose endpoint is gone.
	endpointProbe time.Duration
}

// DefaultEndpointProbe is how long WithCloseOnEndpointLoss waits for an
// endpoint to accept a connection again.
const DefaultEndpointProbe = 250 * time.Millisecond

// WithCloseOnEndpointLoss makes the Client of a hop whose next hop can be
// the connection's endpoint (a forwarder) close the connection at this hop
// when the endpoint is gone: its stream broke and it does not accept a
// connection within probe (DefaultEndpointProbe when 0).
func WithCloseOnEndpointLoss(probe time.Duration) Option {
	return func(o *options) {
		o.endpointProbe = probe
		if probe <= 0 {
			o.endpointProbe = DefaultEndpointProbe
		}
	}
}

// WithLogger sets the logger used when the request context carries none.
func WithLogger(l logrus.FieldLogger) Option {
	return func(o *options) { o.logger = l }
}
