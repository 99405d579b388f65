// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package timeout

import (
	"context"
	"errors"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/core/begin"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/core/metadata"
	"github.com/nsmesh/nsmesh/sdk/tools/log"
)

// armed is the timer of one connection.
type armed struct {
	timer  Timer
	cancel context.CancelFunc
}

func (a *armed) disarm() {
	a.timer.Stop()
	a.cancel()
}

var timerKey = metadata.NewKey[*armed]("timeout.timer")

type server struct {
	chain.ServerLink
	ctx context.Context
	o   options
}

// NewServer returns the element; ctx is the chain's lifetime: when it ends,
// pending timers do nothing.
func NewServer(ctx context.Context, opts ...Option) networkservice.NetworkServiceServer {
	o := options{clock: realClock{}, margin: DefaultMargin}
	for _, opt := range opts {
		opt(&o)
	}
	if o.clock == nil {
		o.clock = realClock{}
	}
	return &server{ctx: ctx, o: o}
}

func (s *server) Request(ctx context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	events := begin.FromContext(ctx)
	if events == nil {
		return nil, status.Error(codes.Internal, "timeout: no begin in the chain before timeout")
	}
	// Measured on arrival: the Close must get the time this Request had.
	lead := s.o.margin
	if dl, ok := ctx.Deadline(); ok {
		lead = time.Until(dl)
	}
	conn := req.GetConnection()
	var expires time.Time
	if prev := conn.GetPrevPathSegment(); prev != nil {
		if prev.GetExpires() == nil {
			return nil, status.Errorf(codes.InvalidArgument,
				"timeout: path segment %d (%s) has no expiry: the caller must send %s",
				conn.GetPath().GetIndex()-1, prev.GetName(), "nsm-client-token-expires")
		}
		expires = prev.GetExpires().AsTime()
	}

	out, err := s.Next().Request(ctx, req)
	if err != nil {
		return nil, err
	}
	if old, ok := timerKey.Load(ctx, metadata.Server); ok {
		old.disarm()
		timerKey.Delete(ctx, metadata.Server)
	}
	if expires.IsZero() {
		return out, nil
	}
	left := expires.Sub(s.o.clock.Now())
	// A long request timeout against a short token would close the connection
	// at once; the caller refreshes at a fifth of the lifetime (refresh), so
	// closing after three quarters still leaves it every chance.
	d := left - min(lead, left/4)
	tctx, cancel := context.WithCancel(s.ctx)
	logger := log.FromContext(ctx, s.o.logger).WithField("conn", out.GetId()).WithField("element", "timeout")
	t := s.o.clock.AfterFunc(d, func() {
		if tctx.Err() != nil {
			return
		}
		logger.Infof("caller's token expires at %s without refresh: closing", expires.UTC().Format(time.RFC3339Nano))
		// Canceled: a refresh or Close got there first, nothing to report.
		if err := <-events.Close(begin.CancelContext(tctx)); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, begin.ErrClosed) {
			logger.Warnf("timeout close: %v", err)
		}
	})
	if !timerKey.Store(ctx, metadata.Server, &armed{timer: t, cancel: cancel}) {
		// Unreachable with begin in front, which the check above ensures.
		t.Stop()
		cancel()
	}
	return out, nil
}

func (s *server) Close(ctx context.Context, conn *networkservice.Connection) (*emptypb.Empty, error) {
	if old, ok := timerKey.Load(ctx, metadata.Server); ok {
		old.disarm()
		timerKey.Delete(ctx, metadata.Server)
	}
	return s.Next().Close(ctx, conn)
}

var _ networkservice.NetworkServiceServer = (*server)(nil)
