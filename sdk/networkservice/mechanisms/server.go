// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package mechanisms

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
)

// NewServer returns a dispatcher over the sub-chains in m, keyed by
// mechanism type.
func NewServer(m map[string]networkservice.NetworkServiceServer) networkservice.NetworkServiceServer {
	s := &server{branches: make(map[string]networkservice.NetworkServiceServer, len(m))}
	tail := &serverTail{s: s}
	for typ, elem := range m {
		switch elem.(type) {
		case nil:
			s.branches[typ] = tail
		case chain.Linker[networkservice.NetworkServiceServer]:
			s.branches[typ] = chain.NewServer(elem, tail)
		default:
			s.branches[typ] = elem
		}
	}
	s.supported = supportedList(slices.Collect(maps.Keys(m)))
	return s
}

type server struct {
	chain.ServerLink
	branches  map[string]networkservice.NetworkServiceServer
	supported string
}

// serverTail hands a sub-chain's calls back to the dispatcher's successor.
type serverTail struct{ s *server }

func (t *serverTail) Request(ctx context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	return t.s.Next().Request(ctx, req)
}

func (t *serverTail) Close(ctx context.Context, conn *networkservice.Connection) (*emptypb.Empty, error) {
	return t.s.Next().Close(ctx, conn)
}

func (s *server) Request(ctx context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	if mech := req.GetConnection().GetMechanism(); mech != nil {
		b, ok := s.branches[mech.GetType()]
		if !ok {
			return nil, status.Errorf(codes.InvalidArgument, "mechanism %s is not supported; supported: %s", describe(mech), s.supported)
		}
		return b.Request(ctx, req)
	}
	var failures []string
	var lastErr error
	for _, pref := range req.GetMechanismPreferences() {
		b, ok := s.branches[pref.GetType()]
		if !ok {
			continue
		}
		attempt := req.Clone()
		attempt.GetConnection().Mechanism = pref.Clone()
		conn, err := b.Request(ctx, attempt)
		if err == nil {
			return conn, nil
		}
		lastErr = err
		failures = append(failures, fmt.Sprintf("%s: %s", describe(pref), status.Convert(err).Message()))
		if ctx.Err() != nil {
			break
		}
	}
	return nil, dispatchError(req.GetMechanismPreferences(), s.supported, failures, lastErr)
}

func (s *server) Close(ctx context.Context, conn *networkservice.Connection) (*emptypb.Empty, error) {
	if b, ok := s.branches[conn.GetMechanism().GetType()]; ok {
		return b.Close(ctx, conn)
	}
	return s.Next().Close(ctx, conn)
}

// dispatchError explains why no preference worked.
func dispatchError(prefs []*networkservice.Mechanism, supported string, failures []string, lastErr error) error {
	if lastErr == nil {
		var offered []string
		for _, p := range prefs {
			offered = append(offered, describe(p))
		}
		return status.Errorf(codes.InvalidArgument, "no supported mechanism in preferences [%s]; supported: %s", strings.Join(offered, " "), supported)
	}
	if len(failures) == 1 {
		return lastErr
	}
	return status.Errorf(status.Code(lastErr), "every supported mechanism failed: %s", strings.Join(failures, "; "))
}

func describe(m *networkservice.Mechanism) string {
	if m.GetCls() == "" {
		return m.GetType()
	}
	return m.GetCls() + "/" + m.GetType()
}

func supportedList(types []string) string {
	slices.Sort(types)
	return "[" + strings.Join(types, " ") + "]"
}

var _ networkservice.NetworkServiceServer = (*server)(nil)
