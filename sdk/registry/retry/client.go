// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package retry

import (
	"context"
	"fmt"
	"time"

	"github.com/sirupsen/logrus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/registry/internal/kind"
	"github.com/nsmesh/nsmesh/sdk/tools/log"
)

// Defaults as upstream.
const (
	DefaultInterval   = 200 * time.Millisecond
	DefaultTryTimeout = 15 * time.Second
)

// Option configures a retry client.
type Option func(*options)

type options struct {
	interval   time.Duration
	tryTimeout time.Duration
	logger     logrus.FieldLogger
}

// WithInterval sets the pause between tries.
func WithInterval(d time.Duration) Option { return func(o *options) { o.interval = d } }

// WithTryTimeout bounds each try of Register and Unregister.
func WithTryTimeout(d time.Duration) Option { return func(o *options) { o.tryTimeout = d } }

// WithLogger sets the logger for failed tries.
func WithLogger(l logrus.FieldLogger) Option { return func(o *options) { o.logger = l } }

// NewNSClient returns a retrying element for network services.
func NewNSClient(opts ...Option) (registry.NetworkServiceRegistryClient, error) {
	o, err := build(opts)
	if err != nil {
		return nil, err
	}
	return &client[registry.NetworkServiceRegistryClient, kind.NSR, kind.NSQ, kind.NSP]{k: kind.NS, o: o}, nil
}

// NewNSEClient returns a retrying element for endpoints.
func NewNSEClient(opts ...Option) (registry.NetworkServiceEndpointRegistryClient, error) {
	o, err := build(opts)
	if err != nil {
		return nil, err
	}
	return &client[registry.NetworkServiceEndpointRegistryClient, kind.NSER, kind.NSEQ, kind.NSEP]{k: kind.NSE, o: o}, nil
}

func build(opts []Option) (options, error) {
	o := options{interval: DefaultInterval, tryTimeout: DefaultTryTimeout, logger: log.Discard()}
	for _, opt := range opts {
		opt(&o)
	}
	if o.interval <= 0 || o.tryTimeout <= 0 {
		return o, fmt.Errorf("retry: interval %s and try timeout %s must be positive", o.interval, o.tryTimeout)
	}
	if o.logger == nil {
		return o, fmt.Errorf("retry: nil logger")
	}
	return o, nil
}

type client[C kind.Client[R, Q, P], R, Q, P any] struct {
	chain.Link[C]
	k *kind.Kind[R, Q, P]
	o options
}

// permanent reports whether another try cannot help.
func permanent(err error) bool {
	switch status.Code(err) {
	case codes.InvalidArgument, codes.PermissionDenied, codes.Unauthenticated, codes.Unimplemented, codes.FailedPrecondition:
		return true
	}
	return false
}

// do runs try until it succeeds, fails for good or ctx is done.
func do[T any](ctx context.Context, o *options, what string, try func(ctx context.Context) (T, error)) (T, error) {
	for {
		res, err := try(ctx)
		if err == nil || permanent(err) || ctx.Err() != nil {
			return res, err
		}
		log.FromContext(ctx, o.logger).WithField("element", "retry").Debugf("%s failed, retrying in %s: %v", what, o.interval, err)
		t := time.NewTimer(o.interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return res, err
		case <-t.C:
		}
	}
}

func (c *client[C, R, Q, P]) Register(ctx context.Context, r *R, opts ...grpc.CallOption) (*R, error) {
	return do(ctx, &c.o, "Register of "+c.k.Describe(r), func(ctx context.Context) (*R, error) {
		ctx, cancel := context.WithTimeout(ctx, c.o.tryTimeout)
		defer cancel()
		return c.Next().Register(ctx, r, opts...)
	})
}

func (c *client[C, R, Q, P]) Find(ctx context.Context, q *Q, opts ...grpc.CallOption) (grpc.ServerStreamingClient[P], error) {
	return do(ctx, &c.o, "Find of "+c.k.Noun+"s", func(ctx context.Context) (grpc.ServerStreamingClient[P], error) {
		return c.Next().Find(ctx, q, opts...)
	})
}

func (c *client[C, R, Q, P]) Unregister(ctx context.Context, r *R, opts ...grpc.CallOption) (*emptypb.Empty, error) {
	return do(ctx, &c.o, "Unregister of "+c.k.Describe(r), func(ctx context.Context) (*emptypb.Empty, error) {
		ctx, cancel := context.WithTimeout(ctx, c.o.tryTimeout)
		defer cancel()
		return c.Next().Unregister(ctx, r, opts...)
	})
}

var (
	_ registry.NetworkServiceRegistryClient         = (*client[registry.NetworkServiceRegistryClient, kind.NSR, kind.NSQ, kind.NSP])(nil)
	_ registry.NetworkServiceEndpointRegistryClient = (*client[registry.NetworkServiceEndpointRegistryClient, kind.NSER, kind.NSEQ, kind.NSEP])(nil)
)
