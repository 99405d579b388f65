// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package refresh

import (
	"context"
	"errors"
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
	"github.com/nsmesh/nsmesh/sdk/tools/log"
)

// retryPause is the longest pause before a failed refresh is tried again.
const retryPause = time.Second

// Option configures the refresh client.
type Option func(*client)

// WithLogger sets the logger for failed refreshes.
func WithLogger(l logrus.FieldLogger) Option { return func(c *client) { c.logger = l } }

// NewNSEClient returns the refresh element; its timers stop when ctx is done.
func NewNSEClient(ctx context.Context, opts ...Option) registry.NetworkServiceEndpointRegistryClient {
	c := &client{ctx: ctx, logger: log.Discard()}
	for _, o := range opts {
		o(c)
	}
	if c.logger == nil {
		c.logger = log.Discard()
	}
	return c
}

type client struct {
	chain.NSEClientLink
	ctx    context.Context
	logger logrus.FieldLogger
}

// state is the refresh state of one name.
type state struct {
	ask     time.Duration          // lifetime the registrant asked for; 0 for the registry's default
	granted *timestamppb.Timestamp // expiration_time of the last answer
	timer   *time.Timer
}

var stateKey = metadata.NewKey[*state]("refresh.state")

func (c *client) Register(ctx context.Context, nse *registry.NetworkServiceEndpoint, opts ...grpc.CallOption) (*registry.NetworkServiceEndpoint, error) {
	events := begin.FromContext(ctx)
	if events == nil {
		return nil, status.Error(codes.FailedPrecondition, "refresh: no begin before refresh in the registry client chain")
	}
	old, had := stateKey.Load(ctx, metadata.Client)
	st := &state{}
	now := time.Now()
	switch asked := nse.GetExpirationTime(); {
	case had && proto.Equal(asked, old.granted):
		st.ask = old.ask
	case asked != nil:
		st.ask = asked.AsTime().Sub(now)
	}
	nse = proto.Clone(nse).(*registry.NetworkServiceEndpoint)
	nse.ExpirationTime = nil
	if st.ask > 0 {
		nse.ExpirationTime = timestamppb.New(now.Add(st.ask))
	}

	resp, err := c.Next().Register(ctx, nse, opts...)
	if err != nil {
		if had && old.timer != nil {
			c.retry(events, old, nse.GetName(), err)
		}
		return nil, err
	}
	if had && old.timer != nil {
		old.timer.Stop()
	}
	st.granted = resp.GetExpirationTime()
	if st.granted == nil {
		stateKey.Store(ctx, metadata.Client, st)
		return resp, nil
	}
	st.timer = c.arm(events, st, 2*time.Until(st.granted.AsTime())/3)
	stateKey.Store(ctx, metadata.Client, st)
	return resp, nil
}

// arm schedules a refresh of st after d.
func (c *client) arm(events begin.EventFactory, st *state, d time.Duration) *time.Timer {
	return time.AfterFunc(d, func() {
		if c.ctx.Err() != nil {
			return
		}
		ch := events.Register(begin.CancelContext(c.ctx), begin.If(func(ctx context.Context) bool {
			cur, ok := stateKey.Load(ctx, metadata.Client)
			return ok && cur == st
		}))
		go func() { <-ch }()
	})
}

// retry re-arms the timer of st after a refresh failed.
func (c *client) retry(events begin.EventFactory, st *state, name string, err error) {
	if errors.Is(err, context.Canceled) || c.ctx.Err() != nil {
		return
	}
	pause := retryPause
	if st.granted != nil {
		if left := time.Until(st.granted.AsTime()) / 3; left < pause {
			pause = max(left, 10*time.Millisecond)
		}
	}
	c.logger.WithField("nse", name).Warnf("refresh failed, trying again in %s: %v", pause, err)
	st.timer.Stop()
	st.timer = c.arm(events, st, pause)
}

func (c *client) Find(ctx context.Context, q *registry.NetworkServiceEndpointQuery, opts ...grpc.CallOption) (grpc.ServerStreamingClient[registry.NetworkServiceEndpointResponse], error) {
	return c.Next().Find(ctx, q, opts...)
}

func (c *client) Unregister(ctx context.Context, nse *registry.NetworkServiceEndpoint, opts ...grpc.CallOption) (*emptypb.Empty, error) {
	if st, ok := stateKey.Load(ctx, metadata.Client); ok {
		if st.timer != nil {
			st.timer.Stop()
		}
		stateKey.Delete(ctx, metadata.Client)
	}
	return c.Next().Unregister(ctx, nse, opts...)
}

var _ registry.NetworkServiceEndpointRegistryClient = (*client)(nil)
