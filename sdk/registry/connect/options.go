// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package connect

import (
	"net/url"
	"time"

	"google.golang.org/grpc"
)

// Defaults of a connect client.
const (
	// DefaultDialTimeout bounds how long a call waits for its connection to
	// become ready.
	DefaultDialTimeout = time.Second
	// DefaultIdleTimeout is how long an unused connection stays open.
	DefaultIdleTimeout = time.Minute
)

// Option configures a connect client.
type Option func(*options)

type options struct {
	url         *url.URL
	dialOptions []grpc.DialOption
	dialTimeout time.Duration
	idleTimeout time.Duration
}

// WithURL sets the registry URL (unix:///path or tcp://host:port).
func WithURL(u *url.URL) Option {
	return func(o *options) { o.url = u }
}

// WithDialOptions sets the options for grpc.NewClient; they must include
// transport credentials.
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(o *options) { o.dialOptions = append(o.dialOptions, opts...) }
}

// WithDialTimeout sets how long a call waits for its connection to become
// ready (DefaultDialTimeout).
func WithDialTimeout(d time.Duration) Option {
	return func(o *options) { o.dialTimeout = d }
}

// WithIdleTimeout sets how long an unused connection stays open
// (DefaultIdleTimeout).
func WithIdleTimeout(d time.Duration) Option {
	return func(o *options) { o.idleTimeout = d }
}
