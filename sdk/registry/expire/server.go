// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package expire

import (
	"context"
	"fmt"
	"time"

	"github.com/sirupsen/logrus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/core/metadata"
	"github.com/nsmesh/nsmesh/sdk/registry/begin"
	"github.com/nsmesh/nsmesh/sdk/registry/updatepath"
	"github.com/nsmesh/nsmesh/sdk/tools/log"
)

// DefaultExpiration is how long a registration lives without a refresh
// unless WithDefaultExpiration says otherwise (upstream: 1 minute).
const DefaultExpiration = time.Minute

// Option configures the expire server.
type Option func(*options)

type options struct {
	expiration time.Duration
	now        func() time.Time
	logger     logrus.FieldLogger
}

// WithDefaultExpiration sets how long a registration lives without a refresh.
func WithDefaultExpiration(d time.Duration) Option {
	return func(o *options) { o.expiration = d }
}

// WithClock replaces time.Now for computing expiration times.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// WithLogger sets the logger for expiries.
func WithLogger(l logrus.FieldLogger) Option {
	return func(o *options) { o.logger = l }
}

// NewServer returns the expire element. Its timers stop when ctx is done.
func NewServer(ctx context.Context, opts ...Option) (registry.NetworkServiceEndpointRegistryServer, error) {
	o := options{expiration: DefaultExpiration, now: time.Now, logger: log.Discard()}
	for _, opt := range opts {
		opt(&o)
	}
	if o.expiration <= 0 {
		return nil, fmt.Errorf("expire: default expiration %s must be positive", o.expiration)
	}
	if o.now == nil || o.logger == nil {
		return nil, fmt.Errorf("expire: nil clock or logger")
	}
	return &server{ctx: ctx, o: o}, nil
}

type server struct {
	chain.NSEServerLink
	ctx context.Context
	o   options
}

// timer is the armed expiry of one name.
type timer struct {
	t       *time.Timer
	expires time.Time
}

var timerKey = metadata.NewKey[*timer]("expire.timer")

func (s *server) Register(ctx context.Context, nse *registry.NetworkServiceEndpoint) (*registry.NetworkServiceEndpoint, error) {
	events := begin.FromContext(ctx)
	if events == nil {
		return nil, status.Error(codes.FailedPrecondition, "expire: no begin before expire in the registry chain")
	}
	exp := s.o.now().Add(s.o.expiration)
	if t, ok := updatepath.ExpiryFromContext(ctx); ok && t.Before(exp) {
		exp = t
	}
	if asked := nse.GetExpirationTime(); asked != nil && asked.AsTime().Before(exp) {
		exp = asked.AsTime()
	}
	nse = proto.Clone(nse).(*registry.NetworkServiceEndpoint)
	nse.ExpirationTime = timestamppb.New(exp)

	resp, err := s.Next().Register(ctx, nse)
	if err != nil {
		return nil, err
	}
	if old, ok := timerKey.Load(ctx, metadata.Server); ok {
		old.t.Stop()
	}
	// Fire on the time the rest of the chain reports, which is what watchers
	// and the registrant see.
	if resp.GetExpirationTime() != nil {
		exp = resp.GetExpirationTime().AsTime()
	}
	tm := &timer{expires: exp}
	name := nse.GetName()
	tm.t = time.AfterFunc(time.Until(exp), func() {
		if s.ctx.Err() != nil {
			return
		}
		ch := events.Unregister(begin.CancelContext(s.ctx), begin.If(func(ctx context.Context) bool {
			cur, ok := timerKey.Load(ctx, metadata.Server)
			return ok && cur == tm
		}))
		go func() {
			if err := <-ch; err == nil {
				s.o.logger.WithField("nse", name).Infof("registration expired at %s", exp.Format(time.RFC3339))
			}
		}()
	})
	timerKey.Store(ctx, metadata.Server, tm)
	return resp, nil
}

func (s *server) Find(q *registry.NetworkServiceEndpointQuery, srv grpc.ServerStreamingServer[registry.NetworkServiceEndpointResponse]) error {
	return s.Next().Find(q, srv)
}

func (s *server) Unregister(ctx context.Context, nse *registry.NetworkServiceEndpoint) (*emptypb.Empty, error) {
	if old, ok := timerKey.Load(ctx, metadata.Server); ok {
		old.t.Stop()
		timerKey.Delete(ctx, metadata.Server)
	}
	return s.Next().Unregister(ctx, nse)
}

var _ registry.NetworkServiceEndpointRegistryServer = (*server)(nil)
