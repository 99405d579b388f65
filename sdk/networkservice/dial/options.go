// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package dial

import (
	"context"
	"time"

	"github.com/sirupsen/logrus"
	"google.golang.org/grpc"
)

// Option configures the dial element.
type Option func(*options)

type options struct {
	ctx      context.Context
	dialOpts []grpc.DialOption
	timeout  time.Duration
	logger   logrus.FieldLogger
}

// WithDialOptions sets the options every dial uses (transport credentials,
// per-RPC credentials, interceptors). Without transport credentials
// grpc.NewClient refuses to dial.
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(o *options) { o.dialOpts = append(o.dialOpts, opts...) }
}

// WithDialTimeout makes a new conn wait up to d for the target to become
// Ready before the Request goes on; zero (the default) does not wait and
// leaves connecting to the first RPC.
func WithDialTimeout(d time.Duration) Option {
	return func(o *options) { o.timeout = d }
}

// WithLogger sets the logger used when the request context carries none.
func WithLogger(l logrus.FieldLogger) Option {
	return func(o *options) { o.logger = l }
}

// WithContext ties the element to ctx: when ctx ends, every conn it still
// holds is closed, as if the process had exited. Without it conns live until
// their connection is closed.
func WithContext(ctx context.Context) Option {
	return func(o *options) { o.ctx = ctx }
}
