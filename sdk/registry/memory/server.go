// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package memory

import (
	"context"
	"sort"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/registry/internal/kind"
)

// MatchNS reports whether ns answers a Find whose query holds q: the name is
// empty or equal, the payload is empty or equal, and the matches are empty or
// equal.
func MatchNS(q, ns *registry.NetworkService) bool { return kind.MatchNS(q, ns) }

// MatchNSE reports whether nse answers a Find whose query holds q: the name
// is empty or equal; for every network service in q's labels, those labels
// are a subset of nse's labels for that service; the expiration time is unset
// or has the same seconds; q's network service names are a subset of nse's;
// q's URL is empty or a substring of nse's.
func MatchNSE(q, nse *registry.NetworkServiceEndpoint) bool { return kind.MatchNSE(q, nse) }

// NewNSServer returns an in-memory network service store. Watches end when
// ctx is done.
func NewNSServer(ctx context.Context, opts ...Option) registry.NetworkServiceRegistryServer {
	return newServer[registry.NetworkServiceRegistryServer](ctx, kind.NS, opts)
}

// NewNSEServer returns an in-memory endpoint store. Watches end when ctx is
// done.
func NewNSEServer(ctx context.Context, opts ...Option) registry.NetworkServiceEndpointRegistryServer {
	return newServer[registry.NetworkServiceEndpointRegistryServer](ctx, kind.NSE, opts)
}

type server[S kind.Server[R, Q, P], R, Q, P any] struct {
	chain.Link[S]
	ctx    context.Context
	k      *kind.Kind[R, Q, P]
	buffer int

	mu       sync.Mutex
	entries  map[string]*R
	watchers map[*watcher[R]]struct{}
}

type update[R any] struct {
	r       *R
	deleted bool
}

type watcher[R any] struct {
	tmpl    *R
	updates chan update[R]
	// behind is closed when the watcher overflowed; the store has dropped it.
	behind chan struct{}
}

func newServer[S kind.Server[R, Q, P], R, Q, P any](ctx context.Context, k *kind.Kind[R, Q, P], opts []Option) *server[S, R, Q, P] {
	o := options{buffer: DefaultWatchBuffer}
	for _, opt := range opts {
		opt(&o)
	}
	return &server[S, R, Q, P]{
		ctx:      ctx,
		k:        k,
		buffer:   o.buffer,
		entries:  make(map[string]*R),
		watchers: make(map[*watcher[R]]struct{}),
	}
}

func (s *server[S, R, Q, P]) Register(ctx context.Context, r *R) (*R, error) {
	if err := s.k.CheckName(r); err != nil {
		return nil, err
	}
	resp := r
	if next := s.Next(); any(next) != nil {
		var err error
		if resp, err = next.Register(ctx, r); err != nil {
			return nil, err
		}
	}
	stored := s.k.Clone(resp)
	s.mu.Lock()
	s.entries[s.k.Name(stored)] = stored
	s.notify(stored, false)
	s.mu.Unlock()
	return s.k.Clone(stored), nil
}

func (s *server[S, R, Q, P]) Unregister(ctx context.Context, r *R) (*emptypb.Empty, error) {
	if err := s.k.CheckName(r); err != nil {
		return nil, err
	}
	if next := s.Next(); any(next) != nil {
		if _, err := next.Unregister(ctx, r); err != nil {
			return nil, err
		}
	}
	name := s.k.Name(r)
	s.mu.Lock()
	if old, ok := s.entries[name]; ok {
		delete(s.entries, name)
		s.notify(old, true)
	}
	s.mu.Unlock()
	return &emptypb.Empty{}, nil
}

// notify hands an update to every matching watcher. Called with mu held; it
// never blocks: a watcher without room is dropped and told so.
func (s *server[S, R, Q, P]) notify(r *R, deleted bool) {
	for w := range s.watchers {
		if !s.k.Match(w.tmpl, r) {
			continue
		}
		select {
		case w.updates <- update[R]{r: r, deleted: deleted}:
		default:
			delete(s.watchers, w)
			close(w.behind)
		}
	}
}

func (s *server[S, R, Q, P]) Find(q *Q, srv grpc.ServerStreamingServer[P]) error {
	tmpl, watch := s.k.Query(q)
	var w *watcher[R]
	s.mu.Lock()
	snapshot := make([]*R, 0, len(s.entries))
	for _, r := range s.entries {
		if s.k.Match(tmpl, r) {
			snapshot = append(snapshot, r)
		}
	}
	if watch {
		// Registered under the same lock as the snapshot: no update is lost
		// between the two, and none is sent twice.
		w = &watcher[R]{tmpl: tmpl, updates: make(chan update[R], s.buffer), behind: make(chan struct{})}
		s.watchers[w] = struct{}{}
	}
	s.mu.Unlock()
	if w != nil {
		defer s.dropWatcher(w)
	}

	// Stored values are never modified, only replaced, so they can be sent
	// without the lock; the order makes results reproducible.
	sort.Slice(snapshot, func(i, j int) bool { return s.k.Name(snapshot[i]) < s.k.Name(snapshot[j]) })
	for _, r := range snapshot {
		if err := srv.Send(s.k.Response(s.k.Clone(r), false)); err != nil {
			return err
		}
	}
	if w == nil {
		return nil
	}
	for {
		select {
		case u := <-w.updates:
			if err := srv.Send(s.k.Response(s.k.Clone(u.r), u.deleted)); err != nil {
				return err
			}
		case <-w.behind:
			return status.Errorf(codes.ResourceExhausted,
				"registry: watch of %ss fell more than %d updates behind and was ended; Find again", s.k.Noun, s.buffer)
		case <-srv.Context().Done():
			return status.FromContextError(srv.Context().Err()).Err()
		case <-s.ctx.Done():
			return status.Errorf(codes.Unavailable, "registry: %s store is shutting down", s.k.Noun)
		}
	}
}

func (s *server[S, R, Q, P]) dropWatcher(w *watcher[R]) {
	s.mu.Lock()
	delete(s.watchers, w)
	s.mu.Unlock()
}

var (
	_ registry.NetworkServiceRegistryServer         = (*server[registry.NetworkServiceRegistryServer, kind.NSR, kind.NSQ, kind.NSP])(nil)
	_ registry.NetworkServiceEndpointRegistryServer = (*server[registry.NetworkServiceEndpointRegistryServer, kind.NSER, kind.NSEQ, kind.NSEP])(nil)
)
