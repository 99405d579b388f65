// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package monitor

import "github.com/sirupsen/logrus"

// Option configures a monitor Server or Client.
type Option func(*options)

type options struct {
	logger logrus.FieldLogger
}

// WithLogger sets the logger used when the request context carries none.
func WithLogger(l logrus.FieldLogger) Option {
	return func(o *options) { o.logger = l }
}
