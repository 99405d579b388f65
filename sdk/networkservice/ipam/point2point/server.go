// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package point2point

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/core/metadata"
)

// lease is one connection's pair in one pool.
type lease struct {
	pool     *pool
	dst, src netip.Addr
}

var leasesKey = metadata.NewKey[[]lease]("point2point.leases")

// NewServer returns the IPAM element over the given pools.
func NewServer(prefixes []netip.Prefix) (networkservice.NetworkServiceServer, error) {
	if len(prefixes) == 0 {
		return nil, errors.New("point2point: at least one prefix is required")
	}
	s := &server{}
	for _, p := range prefixes {
		if !p.IsValid() {
			return nil, fmt.Errorf("point2point: invalid prefix %v", p)
		}
		p = p.Masked()
		if p.Bits() >= p.Addr().BitLen() {
			return nil, fmt.Errorf("point2point: prefix %s holds a single address; a pair needs two", p)
		}
		for _, q := range s.pools {
			if q.prefix.Overlaps(p) {
				return nil, fmt.Errorf("point2point: prefixes %s and %s overlap", q.prefix, p)
			}
		}
		pl := newPool(p)
		s.pools = append(s.pools, pl)
		if p.Addr().Is4() {
			s.v4 = append(s.v4, pl)
		} else {
			s.v6 = append(s.v6, pl)
		}
	}
	return s, nil
}

type server struct {
	chain.ServerLink
	mu     sync.Mutex
	pools  []*pool
	v4, v6 []*pool
}

func (s *server) Request(ctx context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	if metadata.FromContext(ctx, metadata.Server) == nil {
		return nil, status.Error(codes.Internal, "point2point: no per-connection metadata; the server chain needs begin before the IPAM")
	}
	conn := req.GetConnection()
	if conn.Context == nil {
		conn.Context = &networkservice.ConnectionContext{}
	}
	if conn.Context.IpContext == nil {
		conn.Context.IpContext = &networkservice.IPContext{}
	}
	ipc := conn.GetContext().GetIpContext()
	excluded, err := parseAll(ipc.GetExcludedPrefixes())
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "point2point: excluded_prefixes: %v", err)
	}

	old, established := leasesKey.Load(ctx, metadata.Server)
	s.mu.Lock()
	leases, err := s.lease(ipc, excluded, old, !established)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}

	s.apply(ipc, leases)
	out, err := s.Next().Request(ctx, req)
	if err != nil {
		s.release(minus(leases, old)) // keep what an established connection held
		return nil, err
	}
	s.release(minus(old, leases)) // pairs replaced because they became excluded
	leasesKey.Store(ctx, metadata.Server, leases)
	return out, nil
}

// minus returns the leases of a that are not in b.
func minus(a, b []lease) []lease {
	var out []lease
	for _, l := range a {
		if !slices.Contains(b, l) {
			out = append(out, l)
		}
	}
	return out
}

func (s *server) Close(ctx context.Context, conn *networkservice.Connection) (*emptypb.Empty, error) {
	if leases, ok := leasesKey.Load(ctx, metadata.Server); ok {
		s.release(leases)
		leasesKey.Delete(ctx, metadata.Server)
	}
	return s.Next().Close(ctx, conn)
}

// conflicts reports whether an excluded prefix now covers l's addresses.
func conflicts(l lease, excluded []netip.Prefix) bool {
	_, dstBad := excludedBy(l.dst, excluded)
	_, srcBad := excludedBy(l.src, excluded)
	return dstBad || srcBad
}

// lease returns a pair per family: the one held in prev unless it became
// excluded, else the request's own when recover is set and it is free,
// else a new one. On error nothing new stays allocated. s.mu is held.
func (s *server) lease(ipc *networkservice.IPContext, excluded []netip.Prefix, prev []lease, recover bool) ([]lease, error) {
	var out []lease
	for _, family := range [][]*pool{s.v4, s.v6} {
		if len(family) == 0 {
			continue
		}
		l, ok := lease{}, false
		for _, p := range prev {
			if slices.Contains(family, p.pool) && !conflicts(p, excluded) {
				l, ok = p, true
			}
		}
		if !ok && recover {
			l, ok = recoverLease(family, ipc, excluded)
		}
		for _, p := range family {
			if ok {
				break
			}
			if dst, src, got := p.takePair(excluded); got {
				l, ok = lease{pool: p, dst: dst, src: src}, true
			}
		}
		if !ok {
			for _, l := range minus(out, prev) {
				l.pool.release(l.dst)
				l.pool.release(l.src)
			}
			var names []string
			for _, p := range family {
				names = append(names, p.prefix.String())
			}
			return nil, status.Errorf(codes.ResourceExhausted, "no free addresses in [%s]", strings.Join(names, " "))
		}
		out = append(out, l)
	}
	return out, nil
}

// recoverLease claims the pair a request carries, if it is free in one pool.
func recoverLease(family []*pool, ipc *networkservice.IPContext, excluded []netip.Prefix) (lease, bool) {
	dsts, srcs := hostAddrs(ipc.GetDstIpAddrs()), hostAddrs(ipc.GetSrcIpAddrs())
	for _, p := range family {
		for _, dst := range dsts {
			for _, src := range srcs {
				if dst != src && p.free(dst, excluded) && p.free(src, excluded) {
					p.used[dst], p.used[src] = struct{}{}, struct{}{}
					return lease{pool: p, dst: dst, src: src}, true
				}
			}
		}
	}
	return lease{}, false
}

func (s *server) release(leases []lease) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range leases {
		l.pool.release(l.dst)
		l.pool.release(l.src)
	}
}

// ours reports whether a is a host address of one of our pools.
func (s *server) ours(p netip.Prefix) bool {
	if p.Bits() != p.Addr().BitLen() {
		return false
	}
	for _, pl := range s.pools {
		if pl.prefix.Contains(p.Addr()) {
			return true
		}
	}
	return false
}

// apply writes leases into ipc and drops host addresses and routes of our
// pools the connection no longer holds.
func (s *server) apply(ipc *networkservice.IPContext, leases []lease) {
	var src, dst []string
	for _, l := range leases {
		src = append(src, host(l.src))
		dst = append(dst, host(l.dst))
	}
	keep := func(values []string, mine []string) []string {
		out := values[:0:0]
		for _, v := range values {
			p, err := netip.ParsePrefix(v)
			if err == nil && s.ours(p) && !slices.Contains(mine, v) {
				continue
			}
			out = append(out, v)
		}
		for _, m := range mine {
			if !slices.Contains(out, m) {
				out = append(out, m)
			}
		}
		return out
	}
	ipc.SrcIpAddrs = keep(ipc.GetSrcIpAddrs(), src)
	ipc.DstIpAddrs = keep(ipc.GetDstIpAddrs(), dst)
	ipc.SrcRoutes = keepRoutes(s, ipc.GetSrcRoutes(), dst)
	ipc.DstRoutes = keepRoutes(s, ipc.GetDstRoutes(), src)
}

func keepRoutes(s *server, routes []*networkservice.Route, mine []string) []*networkservice.Route {
	out := routes[:0:0]
	have := map[string]bool{}
	for _, r := range routes {
		p, err := netip.ParsePrefix(r.GetPrefix())
		if err == nil && s.ours(p) && !slices.Contains(mine, r.GetPrefix()) {
			continue
		}
		have[r.GetPrefix()] = true
		out = append(out, r)
	}
	for _, m := range mine {
		if !have[m] {
			out = append(out, &networkservice.Route{Prefix: m})
		}
	}
	return out
}

func host(a netip.Addr) string {
	return netip.PrefixFrom(a, a.BitLen()).String()
}

// hostAddrs returns the addresses of the host prefixes in values.
func hostAddrs(values []string) []netip.Addr {
	var out []netip.Addr
	for _, v := range values {
		if p, err := netip.ParsePrefix(v); err == nil && p.Bits() == p.Addr().BitLen() {
			out = append(out, p.Addr())
		}
	}
	return out
}

func parseAll(values []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(values))
	for _, v := range values {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", v, err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

var _ networkservice.NetworkServiceServer = (*server)(nil)
