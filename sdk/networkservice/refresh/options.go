// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package refresh

import (
	"time"

	"github.com/sirupsen/logrus"
)

// DefaultRetryInterval is the pause between failed refresh attempts.
const DefaultRetryInterval = 200 * time.Millisecond

// Clock is the time source of the element; tests inject a fake one.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine after d, unless stopped.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc.
type Timer interface {
	Stop() bool
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// Option configures the refresh element.
type Option func(*options)

type options struct {
	clock  Clock
	retry  time.Duration
	logger logrus.FieldLogger
}

// WithClock sets the clock (default: the system clock).
func WithClock(c Clock) Option {
	return func(o *options) { o.clock = c }
}

// WithRetryInterval sets the pause between failed refresh attempts.
func WithRetryInterval(d time.Duration) Option {
	return func(o *options) { o.retry = d }
}

// WithLogger sets the logger used when the request context carries none.
func WithLogger(l logrus.FieldLogger) Option {
	return func(o *options) { o.logger = l }
}
