// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package roundrobin

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/sirupsen/logrus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/networkservice/discover"
	"github.com/nsmesh/nsmesh/sdk/tools/clienturlctx"
	"github.com/nsmesh/nsmesh/sdk/tools/log"
)

// Option configures the roundrobin element.
type Option func(*server)

// WithLogger sets the logger used when the request context carries none.
func WithLogger(l logrus.FieldLogger) Option {
	return func(s *server) { s.logger = l }
}

// NewServer returns the roundrobin element.
func NewServer(opts ...Option) networkservice.NetworkServiceServer {
	s := &server{counters: make(map[string]uint64)}
	for _, opt := range opts {
		opt(s)
	}
	return s
}

type server struct {
	chain.ServerLink
	logger logrus.FieldLogger

	mu       sync.Mutex
	counters map[string]uint64
}

// start returns the index to begin with for service ns out of n candidates.
func (s *server) start(ns string, n int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.counters[ns]
	s.counters[ns] = c + 1
	return int(c % uint64(n))
}

func (s *server) Request(ctx context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	cands := discover.CandidatesFromContext(ctx)
	if cands == nil || clienturlctx.ClientURL(ctx) != nil {
		return s.Next().Request(ctx, req)
	}
	ns := cands.NetworkService.GetName()
	n := len(cands.Endpoints)
	if n == 0 {
		return nil, status.Errorf(codes.NotFound, "no endpoint for network service %q: none registered", ns)
	}
	logger := log.FromContext(ctx, s.logger).WithField("element", "roundrobin")
	first := s.start(ns, n)
	var tried []string
	var codesSeen []codes.Code
	for i := 0; i < n; i++ {
		if ctx.Err() != nil {
			break
		}
		nse := cands.Endpoints[(first+i)%n]
		u, err := discover.EndpointURL(nse)
		if err == nil {
			attempt := req.Clone()
			attempt.GetConnection().NetworkServiceEndpointName = nse.GetName()
			var conn *networkservice.Connection
			conn, err = s.Next().Request(clienturlctx.WithClientURL(ctx, u), attempt)
			if err == nil {
				return conn, nil
			}
		}
		logger.Warnf("endpoint %s of %q failed, trying the next one: %v", nse.GetName(), ns, err)
		tried = append(tried, fmt.Sprintf("%s: %s", nse.GetName(), status.Convert(err).Message()))
		codesSeen = append(codesSeen, status.Code(err))
	}
	code := commonCode(codesSeen)
	if err := ctx.Err(); err != nil {
		code = status.FromContextError(err).Code()
	}
	return nil, status.Errorf(code, "no endpoint for network service %q could serve the request; tried %d of %d: %s",
		ns, len(tried), n, strings.Join(tried, "; "))
}

// commonCode returns the code all attempts failed with, or Unavailable when
// they disagree.
func commonCode(cs []codes.Code) codes.Code {
	if len(cs) == 0 {
		return codes.Unavailable
	}
	for _, c := range cs[1:] {
		if c != cs[0] {
			return codes.Unavailable
		}
	}
	return cs[0]
}

func (s *server) Close(ctx context.Context, conn *networkservice.Connection) (*emptypb.Empty, error) {
	return s.Next().Close(ctx, conn)
}

var _ networkservice.NetworkServiceServer = (*server)(nil)
