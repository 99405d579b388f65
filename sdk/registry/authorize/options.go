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
	extra    []Policy
	set      bool
	now      func() time.Time
	logger   logrus.FieldLogger
}

// WithPolicies replaces the default policies; all must allow.
func WithPolicies(p ...Policy) Option {
	return func(o *options) { o.policies, o.set = p, true }
}

// WithAdditionalPolicies adds policies that run after the defaults (or
// after those of WithPolicies), only when those allow.
func WithAdditionalPolicies(p ...Policy) Option {
	return func(o *options) { o.extra = append(o.extra, p...) }
}

// Any checks nothing: the element passes every call on and records no
// owners (upstream: no policies skip the element).
func Any() Option {
	return WithPolicies()
}

// WithClock replaces time.Now for deciding whether a registration expired.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// WithLogger sets the logger used when the call context carries none.
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
	o.policies = append(o.policies[:len(o.policies):len(o.policies)], o.extra...)
	if o.now == nil {
		o.now = time.Now
	}
	return o
}
