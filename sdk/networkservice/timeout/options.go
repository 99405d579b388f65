// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package timeout

import (
	"time"

	"github.com/sirupsen/logrus"
)

// DefaultMargin is how much earlier than the caller's expiry a connection
// whose Request had no deadline is closed.
const DefaultMargin = time.Second

// Timer is a pending call of a Clock.
type Timer interface {
	// Stop prevents the call if it has not started.
	Stop() bool
}

// Clock is the time source; tests replace it to fire timers at will.
type Clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) Timer
}

type realClock struct{}

func (realClock) Now() time.Time                            { return time.Now() }
func (realClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// Option changes the element.
type Option func(*options)

type options struct {
	clock  Clock
	margin time.Duration
	logger logrus.FieldLogger
}

// WithClock replaces the real clock.
func WithClock(c Clock) Option {
	return func(o *options) { o.clock = c }
}

// WithMargin replaces DefaultMargin.
func WithMargin(d time.Duration) Option {
	return func(o *options) { o.margin = d }
}

// WithLogger sets the logger used when the request context carries none.
func WithLogger(l logrus.FieldLogger) Option {
	return func(o *options) { o.logger = l }
}
