// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package authorize

import (
	"time"

	"github.com/sirupsen/logrus"
)

// Option changes an authorize element.
type Option func(*options)

type options struct {
	policies []Policy
	set      bool
	now      func() time.Time
	logger   logrus.FieldLogger
}

// WithPolicies replaces the default policies; all must allow.
func WithPolicies(p ...Policy) Option {
	return func(o *options) { o.policies, o.set = p, true }
}

// Any checks nothing: the element passes every call on.
func Any() Option {
	return WithPolicies()
}

// WithClock replaces time.Now for expiry checks.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// WithLogger sets the logger used when the request context carries none.
func WithLogger(l logrus.FieldLogger) Option {
	return func(o *options) { o.logger = l }
}

func apply(defaults []Policy, opts []Option) options {
	o := options{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	if !o.set {
		o.policies = defaults
	}
	if o.now == nil {
		o.now = time.Now
	}
	return o
}
