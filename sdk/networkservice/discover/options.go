// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package discover

import (
	"time"

	"github.com/sirupsen/logrus"
)

// Option configures the discover element.
type Option func(*options)

type options struct {
	logger logrus.FieldLogger
	now    func() time.Time
}

// WithLogger sets the logger used when the request context carries none.
func WithLogger(l logrus.FieldLogger) Option {
	return func(o *options) { o.logger = l }
}

// WithNow sets the clock that decides whether a registration has expired.
func WithNow(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}
