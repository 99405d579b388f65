// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package heal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/sirupsen/logrus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/core/metadata"
	"github.com/nsmesh/nsmesh/sdk/registry/begin"
	"github.com/nsmesh/nsmesh/sdk/registry/internal/kind"
	"github.com/nsmesh/nsmesh/sdk/tools/log"
)

// Default backoff bounds between failed re-registrations.
const (
	DefaultMinBackoff = 100 * time.Millisecond
	DefaultMaxBackoff = 5 * time.Second
)

// Option configures a heal client.
type Option func(*options)

type options struct {
	minBackoff, maxBackoff time.Duration
	logger                 logrus.FieldLogger
}

// WithBackoff sets the bounds of the pause between failed re-registrations.
func WithBackoff(minimum, maximum time.Duration) Option {
	return func(o *options) { o.minBackoff, o.maxBackoff = minimum, maximum }
}

// WithLogger sets the logger for lost and healed registrations.
func WithLogger(l logrus.FieldLogger) Option { return func(o *options) { o.logger = l } }

// NewNSClient returns heal for network services; its watches end when ctx is done.
func NewNSClient(ctx context.Context, opts ...Option) (registry.NetworkServiceRegistryClient, error) {
	o, err := build(opts)
	if err != nil {
		return nil, err
	}
	return newClient[registry.NetworkServiceRegistryClient](ctx, kind.NS, o), nil
}

// NewNSEClient returns heal for endpoints; its watches end when ctx is done.
func NewNSEClient(ctx context.Context, opts ...Option) (registry.NetworkServiceEndpointRegistryClient, error) {
	o, err := build(opts)
	if err != nil {
		return nil, err
	}
	return newClient[registry.NetworkServiceEndpointRegistryClient](ctx, kind.NSE, o), nil
}

func build(opts []Option) (options, error) {
	o := options{minBackoff: DefaultMinBackoff, maxBackoff: DefaultMaxBackoff, logger: log.Discard()}
	for _, opt := range opts {
		opt(&o)
	}
	if o.minBackoff <= 0 || o.maxBackoff < o.minBackoff {
		return o, fmt.Errorf("heal: backoff from %s to %s: want 0 < min <= max", o.minBackoff, o.maxBackoff)
	}
	if o.logger == nil {
		return o, fmt.Errorf("heal: nil logger")
	}
	return o, nil
}

type client[C kind.Client[R, Q, P], R, Q, P any] struct {
	chain.Link[C]
	ctx context.Context
	k   *kind.Kind[R, Q, P]
	o   options
	key *metadata.Key[*watch]
}

func newClient[C kind.Client[R, Q, P], R, Q, P any](ctx context.Context, k *kind.Kind[R, Q, P], o options) *client[C, R, Q, P] {
	return &client[C, R, Q, P]{ctx: ctx, k: k, o: o, key: metadata.NewKey[*watch]("heal.watch." + k.Short)}
}

// watch is the watch of one registration.
type watch struct {
	stop func()
}

func (c *client[C, R, Q, P]) Register(ctx context.Context, r *R, opts ...grpc.CallOption) (*R, error) {
	events := begin.FromContext(ctx)
	if events == nil {
		return nil, status.Error(codes.FailedPrecondition, "heal: no begin before heal in the registry client chain")
	}
	resp, err := c.Next().Register(ctx, r, opts...)
	if err != nil {
		return nil, err
	}
	if old, ok := c.key.Load(ctx, metadata.Client); ok {
		old.stop()
	}
	if c.ctx.Err() != nil {
		c.key.Delete(ctx, metadata.Client)
		return resp, nil
	}
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	unhook := context.AfterFunc(c.ctx, cancel)
	w := &watch{stop: func() { unhook(); cancel() }}
	c.key.Store(ctx, metadata.Client, w)
	go c.watch(wctx, events, w, c.k.Name(resp), opts)
	return resp, nil
}

// watch follows the registration of name until the watch is stopped, and
// heals it when it is lost.
func (c *client[C, R, Q, P]) watch(ctx context.Context, events begin.EventFactory, w *watch, name string, opts []grpc.CallOption) {
	logger := log.FromContext(ctx, c.o.logger).WithField(c.k.Short, name)
	reason := c.follow(ctx, name, opts)
	if ctx.Err() != nil {
		return
	}
	logger.Warnf("registration lost (%v), registering again", reason)
	delay := c.o.minBackoff
	for {
		err := <-events.Register(begin.CancelContext(ctx), begin.If(func(ctx context.Context) bool {
			cur, ok := c.key.Load(ctx, metadata.Client)
			return ok && cur == w
		}))
		switch {
		case err == nil:
			logger.Info("registered again")
			return
		case errors.Is(err, begin.ErrSkipped), errors.Is(err, begin.ErrClosed), ctx.Err() != nil:
			return
		}
		// ±20% jitter keeps a fleet of clients from returning in step.
		pause := time.Duration(float64(delay) * (0.8 + 0.4*rand.Float64()))
		logger.Debugf("registering again failed, next try in %s: %v", pause, err)
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		delay = min(2*delay, c.o.maxBackoff)
	}
}

// While a new watch has not answered yet, heal looks for the registration
// every pollInterval, each look taking at most lookTimeout.
const (
	pollInterval = 200 * time.Millisecond
	lookTimeout  = 5 * time.Second
)

// follow watches name and returns why the registration looks lost.
func (c *client[C, R, Q, P]) follow(ctx context.Context, name string, opts []grpc.CallOption) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s, err := c.Next().Find(ctx, c.k.NewQuery(c.k.Named(name), true), opts...)
	if err != nil {
		return err
	}
	if err := c.awaitFirst(ctx, s, name, opts); err != nil {
		return err
	}
	for {
		p, err := s.Recv()
		if err != nil {
			return err
		}
		if r, deleted := c.k.Entry(p); deleted && c.k.Name(r) == name {
			return errors.New("the registry reported it deleted")
		}
	}
}

// awaitFirst waits for the first answer of a new watch. A Find returns
// before the registry has set the watch up, and a watch reports only changes
// after its first answer (the registration itself): a registration lost
// before the watch was in place would never show. So until that answer
// arrives, heal looks (Find without watch) whether the registry still holds
// the name.
func (c *client[C, R, Q, P]) awaitFirst(ctx context.Context, s grpc.ServerStreamingClient[P], name string, opts []grpc.CallOption) error {
	type answer struct {
		p   *P
		err error
	}
	first := make(chan answer, 1)
	go func() {
		p, err := s.Recv()
		first <- answer{p, err}
	}()
	poll := time.NewTicker(pollInterval)
	defer poll.Stop()
	for {
		select {
		case a := <-first:
			if a.err != nil {
				return a.err
			}
			if r, deleted := c.k.Entry(a.p); deleted && c.k.Name(r) == name {
				return errors.New("the registry reported it deleted")
			}
			return nil
		case <-poll.C:
			held, err := c.holds(ctx, name, opts)
			if err != nil {
				return err
			}
			if !held {
				return errors.New("the registry does not hold it")
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// holds reports whether the registry holds a registration of name now.
func (c *client[C, R, Q, P]) holds(ctx context.Context, name string, opts []grpc.CallOption) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, lookTimeout)
	defer cancel()
	s, err := c.Next().Find(ctx, c.k.NewQuery(c.k.Named(name), false), opts...)
	if err != nil {
		return false, err
	}
	held := false
	for {
		p, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return held, nil
		}
		if err != nil {
			return false, err
		}
		if r, deleted := c.k.Entry(p); !deleted && c.k.Name(r) == name {
			held = true
		}
	}
}

func (c *client[C, R, Q, P]) Find(ctx context.Context, q *Q, opts ...grpc.CallOption) (grpc.ServerStreamingClient[P], error) {
	return c.Next().Find(ctx, q, opts...)
}

func (c *client[C, R, Q, P]) Unregister(ctx context.Context, r *R, opts ...grpc.CallOption) (*emptypb.Empty, error) {
	if w, ok := c.key.Load(ctx, metadata.Client); ok {
		w.stop()
		c.key.Delete(ctx, metadata.Client)
	}
	return c.Next().Unregister(ctx, r, opts...)
}

var (
	_ registry.NetworkServiceRegistryClient         = (*client[registry.NetworkServiceRegistryClient, kind.NSR, kind.NSQ, kind.NSP])(nil)
	_ registry.NetworkServiceEndpointRegistryClient = (*client[registry.NetworkServiceEndpointRegistryClient, kind.NSER, kind.NSEQ, kind.NSEP])(nil)
)
