// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package heal

import (
	"context"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/nsmesh/nsmesh/apis/networkservice"
)

// Defaults as upstream's heal (§4.5); the backoff bounds are ours.
const (
	DefaultLivenessCheckInterval = 200 * time.Millisecond
	DefaultLivenessCheckTimeout  = 100 * time.Millisecond
	DefaultMinBackoff            = 100 * time.Millisecond
	DefaultMaxBackoff            = 2 * time.Second
)

// LivenessCheck reports whether the data plane of conn carries traffic. It
// must return by the time ctx ends; false means dead (or unknown within the
// time allowed).
type LivenessCheck func(ctx context.Context, conn *networkservice.Connection) bool

// Option configures the heal client.
type Option func(*options)

type options struct {
	check                  LivenessCheck
	interval, timeout      time.Duration
	minBackoff, maxBackoff time.Duration
	logger                 logrus.FieldLogger
}

// WithLivenessCheck checks the data plane with check; without one, every
// break of the control plane is healed by a reselect.
func WithLivenessCheck(check LivenessCheck) Option {
	return func(o *options) { o.check = check }
}

// WithLivenessCheckInterval sets the time between two liveness checks.
func WithLivenessCheckInterval(d time.Duration) Option {
	return func(o *options) { o.interval = d }
}

// WithLivenessCheckTimeout bounds each liveness check.
func WithLivenessCheckTimeout(d time.Duration) Option {
	return func(o *options) { o.timeout = d }
}

// WithBackoff sets the bounds of the pause between failed heal attempts.
func WithBackoff(minimum, maximum time.Duration) Option {
	return func(o *options) { o.minBackoff, o.maxBackoff = minimum, maximum }
}

// WithLogger sets the logger used when the request context carries none.
func WithLogger(l logrus.FieldLogger) Option {
	return func(o *options) { o.logger = l }
}
