// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package xconnect

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sirupsen/logrus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/core/metadata"
	"github.com/nsmesh/nsmesh/sdk/tools/log"
)

// Pair is one connection as both halves of the forwarder see it.
type Pair struct {
	// ID is the forwarder's segment id of the connection.
	ID string
	// Upstream is the connection returned to the caller: its mechanism is the
	// one the client side chose (e.g. LOCAL/KERNEL with the client's netns).
	Upstream *networkservice.Connection
	// Downstream is the connection the next hop returned: its mechanism is the
	// endpoint side (e.g. LOCAL/KERNEL with the endpoint's netns, or a tunnel).
	Downstream *networkservice.Connection
}

// Dataplane programs packet forwarding between the two mechanisms of a Pair.
type Dataplane interface {
	// Program creates or updates what the Pair needs; it is called again on
	// every refresh and must be idempotent.
	Program(ctx context.Context, p *Pair) error
	// Unprogram removes everything Program created for the Pair.
	Unprogram(ctx context.Context, p *Pair) error
}

// UnprogramTimeout bounds data-plane cleanup that runs after the caller gave up.
const UnprogramTimeout = 10 * time.Second

type state struct {
	downstream *networkservice.Mechanism
	pair       *Pair
}

var stateKey = metadata.NewKey[*state]("xconnect.state")

type client struct {
	chain.ClientLink
	dp     Dataplane
	logger logrus.FieldLogger
}

// NewClient returns the element that translates mechanisms and programs dp.
func NewClient(dp Dataplane, logger logrus.FieldLogger) networkservice.NetworkServiceClient {
	if logger == nil {
		logger = log.Discard()
	}
	return &client{dp: dp, logger: logger}
}

func (c *client) Request(ctx context.Context, req *networkservice.NetworkServiceRequest, opts ...grpc.CallOption) (*networkservice.Connection, error) {
	st, established := stateKey.Load(ctx, metadata.Client)
	if !established {
		st = &state{}
	}
	upstream := req.GetConnection().GetMechanism()
	if upstream == nil {
		return nil, status.Error(codes.InvalidArgument, "xconnect: request reached the forwarder's client without an upstream mechanism; a mechanisms server element must choose one first")
	}
	down := req.Clone()
	down.Connection.Mechanism = st.downstream.Clone()
	down.MechanismPreferences = nil

	conn, err := c.Next().Request(ctx, down, opts...)
	if err != nil {
		return nil, err
	}
	pair := &Pair{ID: req.GetConnection().GetId(), Downstream: conn.Clone()}
	out := conn.Clone()
	out.Mechanism = upstream.Clone()
	pair.Upstream = out.Clone()

	start := time.Now()
	if err := c.dp.Program(ctx, pair); err != nil {
		if !established {
			cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), UnprogramTimeout)
			defer cancel()
			err = errors.Join(err, c.dp.Unprogram(cleanup, pair))
			if _, cerr := c.Next().Close(cleanup, conn, opts...); cerr != nil {
				c.logger.WithError(cerr).WithField("conn", pair.ID).Warn("xconnect: closing the next hop after a failed programming")
			}
		}
		return nil, status.Errorf(codes.Internal, "xconnect: program data plane for connection %s: %v", pair.ID, err)
	}
	c.logger.WithFields(logrus.Fields{
		"conn":       pair.ID,
		"upstream":   upstream.GetType(),
		"downstream": conn.GetMechanism().GetType(),
		"duration":   time.Since(start),
	}).Debug("xconnect: programmed")
	st.downstream = conn.GetMechanism().Clone()
	st.pair = pair
	stateKey.Store(ctx, metadata.Client, st)
	return out, nil
}

func (c *client) Close(ctx context.Context, conn *networkservice.Connection, opts ...grpc.CallOption) (*emptypb.Empty, error) {
	st, ok := stateKey.Load(ctx, metadata.Client)
	if !ok {
		return c.Next().Close(ctx, conn, opts...)
	}
	stateKey.Delete(ctx, metadata.Client)
	cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), UnprogramTimeout)
	defer cancel()
	var errs []error
	if err := c.dp.Unprogram(cleanup, st.pair); err != nil {
		errs = append(errs, fmt.Errorf("xconnect: unprogram connection %s: %w", st.pair.ID, err))
	}
	down := conn.Clone()
	down.Mechanism = st.downstream.Clone()
	if _, err := c.Next().Close(ctx, down, opts...); err != nil {
		errs = append(errs, err)
	}
	return &emptypb.Empty{}, errors.Join(errs...)
}

var _ networkservice.NetworkServiceClient = (*client)(nil)
