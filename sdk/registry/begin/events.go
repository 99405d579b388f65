// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package begin

import (
	"context"
	"errors"
	"time"
)

// DefaultEventTimeout bounds an event whose originating Register had no deadline.
const DefaultEventTimeout = 15 * time.Second

var (
	// ErrClosed is returned by events for a name that is unregistered or was
	// never registered.
	ErrClosed = errors.New("begin: registration is closed")
	// ErrSkipped is returned by events whose If condition did not hold.
	ErrSkipped = errors.New("begin: event skipped, its condition no longer holds")
)

// EventFactory injects events for one registration into the chain after begin.
type EventFactory interface {
	// Register re-registers the last registration; the result arrives on the channel.
	Register(opts ...Option) <-chan error
	// Unregister unregisters it through the chain and forgets the name.
	Unregister(opts ...Option) <-chan error
}

// Option changes one event.
type Option func(*eventOptions)

type eventOptions struct {
	cancel  context.Context
	cond    func(context.Context) bool
	timeout time.Duration
}

// CancelContext abandons the event when ctx is done before it starts and
// cancels it when ctx is done while it runs. Elements pass the context of
// their constructor, so that nothing they started outlives it.
func CancelContext(ctx context.Context) Option {
	return func(o *eventOptions) { o.cancel = ctx }
}

// If runs the event only when cond holds. cond runs under the name's lock
// with the context the event would run with, so it can read the name's
// metadata; the event then reports ErrSkipped.
func If(cond func(ctx context.Context) bool) Option {
	return func(o *eventOptions) { o.cond = cond }
}

// Timeout bounds the event by d when that is shorter than the timeout it
// inherits from the last Register.
func Timeout(d time.Duration) Option {
	return func(o *eventOptions) { o.timeout = d }
}

type factoryKey struct{}

// FromContext returns the EventFactory of the registration being handled, or
// nil outside a begin.
func FromContext(ctx context.Context) EventFactory {
	f, _ := ctx.Value(factoryKey{}).(EventFactory)
	return f
}
