// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package fakes

import (
	"context"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/registry"
)

// Registry is an in-memory registry seen through its two client APIs, for
// tests of elements that discover services and endpoints. Find follows the
// memory registry's matching rules (nsm-reference §4.1) and, with watch,
// streams later registrations and deletions until its context ends. It
// starts no goroutines.
type Registry struct {
	mu       sync.Mutex
	nss      map[string]*registry.NetworkService
	nses     map[string]*registry.NetworkServiceEndpoint
	watchers map[*watcher]struct{}
	findErr  error
	nsFinds  int
	nseFinds int
}

// NewRegistry returns an empty Registry.
func NewRegistry() *Registry {
	return &Registry{
		nss:      make(map[string]*registry.NetworkService),
		nses:     make(map[string]*registry.NetworkServiceEndpoint),
		watchers: make(map[*watcher]struct{}),
	}
}

// NS returns the NetworkService registry client.
func (r *Registry) NS() registry.NetworkServiceRegistryClient { return (*nsRegistry)(r) }

// NSE returns the NetworkServiceEndpoint registry client.
func (r *Registry) NSE() registry.NetworkServiceEndpointRegistryClient { return (*nseRegistry)(r) }

// SetFindError makes every later Find fail with err (nil restores).
func (r *Registry) SetFindError(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.findErr = err
}

// Finds reports how many NS and NSE Finds were made.
func (r *Registry) Finds() (ns, nse int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.nsFinds, r.nseFinds
}

// Watchers reports how many watch streams are open; tests use it to check
// that an element closed its watch.
func (r *Registry) Watchers() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for w := range r.watchers {
		if w.ctx.Err() == nil {
			n++
		}
	}
	return n
}

// AddNS registers ns.
func (r *Registry) AddNS(ns *registry.NetworkService) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ns = proto.Clone(ns).(*registry.NetworkService)
	r.nss[ns.GetName()] = ns
	r.notify(ns, nil, false)
}

// AddNSE registers nse.
func (r *Registry) AddNSE(nse *registry.NetworkServiceEndpoint) {
	r.mu.Lock()
	defer r.mu.Unlock()
	nse = proto.Clone(nse).(*registry.NetworkServiceEndpoint)
	r.nses[nse.GetName()] = nse
	r.notify(nil, nse, false)
}

// RemoveNSE unregisters the NSE called name, as expiry would.
func (r *Registry) RemoveNSE(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if nse, ok := r.nses[name]; ok {
		delete(r.nses, name)
		r.notify(nil, nse, true)
	}
}

func (r *Registry) notify(ns *registry.NetworkService, nse *registry.NetworkServiceEndpoint, deleted bool) {
	for w := range r.watchers {
		if w.ctx.Err() != nil {
			delete(r.watchers, w)
			continue
		}
		switch {
		case ns != nil && w.nsQuery != nil && nsMatches(w.nsQuery, ns):
			w.push(&registry.NetworkServiceResponse{NetworkService: proto.Clone(ns).(*registry.NetworkService), Deleted: deleted})
		case nse != nil && w.nseQuery != nil && nseMatches(w.nseQuery, nse):
			w.push(&registry.NetworkServiceEndpointResponse{NetworkServiceEndpoint: proto.Clone(nse).(*registry.NetworkServiceEndpoint), Deleted: deleted})
		}
	}
}

func nsMatches(q, ns *registry.NetworkService) bool {
	if q.GetName() != "" && q.GetName() != ns.GetName() {
		return false
	}
	if q.GetPayload() != "" && q.GetPayload() != ns.GetPayload() {
		return false
	}
	if q.GetMatches() != nil {
		if len(q.GetMatches()) != len(ns.GetMatches()) {
			return false
		}
		for i := range q.GetMatches() {
			if !proto.Equal(q.GetMatches()[i], ns.GetMatches()[i]) {
				return false
			}
		}
	}
	return true
}

func nseMatches(q, nse *registry.NetworkServiceEndpoint) bool {
	if q.GetName() != "" && q.GetName() != nse.GetName() {
		return false
	}
	for _, name := range q.GetNetworkServiceNames() {
		if !slices.Contains(nse.GetNetworkServiceNames(), name) {
			return false
		}
	}
	for ns, want := range q.GetNetworkServiceLabels() {
		have := nse.GetNetworkServiceLabels()[ns].GetLabels()
		for k, v := range want.GetLabels() {
			if hv, ok := have[k]; !ok || hv != v {
				return false
			}
		}
	}
	if q.GetUrl() != "" && !strings.Contains(nse.GetUrl(), q.GetUrl()) {
		return false
	}
	return true
}

type nsRegistry Registry

func (r *nsRegistry) Register(_ context.Context, ns *registry.NetworkService, _ ...grpc.CallOption) (*registry.NetworkService, error) {
	(*Registry)(r).AddNS(ns)
	return ns, nil
}

func (r *nsRegistry) Unregister(_ context.Context, ns *registry.NetworkService, _ ...grpc.CallOption) (*emptypb.Empty, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.nss[ns.GetName()]; ok {
		delete(r.nss, ns.GetName())
		(*Registry)(r).notify(old, nil, true)
	}
	return &emptypb.Empty{}, nil
}

func (r *nsRegistry) Find(ctx context.Context, q *registry.NetworkServiceQuery, _ ...grpc.CallOption) (grpc.ServerStreamingClient[registry.NetworkServiceResponse], error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.nsFinds++
	if r.findErr != nil {
		return nil, r.findErr
	}
	w := &watcher{ctx: ctx, nsQuery: q.GetNetworkService(), wake: make(chan struct{}, 1), watch: q.GetWatch()}
	for _, name := range slices.Sorted(maps.Keys(r.nss)) {
		if ns := r.nss[name]; nsMatches(q.GetNetworkService(), ns) {
			w.push(&registry.NetworkServiceResponse{NetworkService: proto.Clone(ns).(*registry.NetworkService)})
		}
	}
	if q.GetWatch() {
		r.watchers[w] = struct{}{}
	}
	return &stream[registry.NetworkServiceResponse]{w: w}, nil
}

type nseRegistry Registry

func (r *nseRegistry) Register(_ context.Context, nse *registry.NetworkServiceEndpoint, _ ...grpc.CallOption) (*registry.NetworkServiceEndpoint, error) {
	(*Registry)(r).AddNSE(nse)
	return nse, nil
}

func (r *nseRegistry) Unregister(_ context.Context, nse *registry.NetworkServiceEndpoint, _ ...grpc.CallOption) (*emptypb.Empty, error) {
	(*Registry)(r).RemoveNSE(nse.GetName())
	return &emptypb.Empty{}, nil
}

func (r *nseRegistry) Find(ctx context.Context, q *registry.NetworkServiceEndpointQuery, _ ...grpc.CallOption) (grpc.ServerStreamingClient[registry.NetworkServiceEndpointResponse], error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.nseFinds++
	if r.findErr != nil {
		return nil, r.findErr
	}
	w := &watcher{ctx: ctx, nseQuery: q.GetNetworkServiceEndpoint(), wake: make(chan struct{}, 1), watch: q.GetWatch()}
	if w.nseQuery == nil {
		w.nseQuery = &registry.NetworkServiceEndpoint{}
	}
	for _, name := range slices.Sorted(maps.Keys(r.nses)) {
		if nse := r.nses[name]; nseMatches(w.nseQuery, nse) {
			w.push(&registry.NetworkServiceEndpointResponse{NetworkServiceEndpoint: proto.Clone(nse).(*registry.NetworkServiceEndpoint)})
		}
	}
	if q.GetWatch() {
		r.watchers[w] = struct{}{}
	}
	return &stream[registry.NetworkServiceEndpointResponse]{w: w}, nil
}

// watcher is the queue behind one Find stream.
type watcher struct {
	ctx      context.Context
	nsQuery  *registry.NetworkService
	nseQuery *registry.NetworkServiceEndpoint
	watch    bool

	mu    sync.Mutex
	queue []any
	wake  chan struct{}
}

func (w *watcher) push(v any) {
	w.mu.Lock()
	w.queue = append(w.queue, v)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *watcher) pop() (any, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.queue) == 0 {
		return nil, false
	}
	v := w.queue[0]
	w.queue = w.queue[1:]
	return v, true
}

type stream[T any] struct{ w *watcher }

func (s *stream[T]) Recv() (*T, error) {
	for {
		if v, ok := s.w.pop(); ok {
			return v.(*T), nil
		}
		if !s.w.watch {
			return nil, io.EOF
		}
		select {
		case <-s.w.ctx.Done():
			return nil, s.w.ctx.Err()
		case <-s.w.wake:
		}
	}
}

func (s *stream[T]) Header() (metadata.MD, error) { return nil, nil }
func (s *stream[T]) Trailer() metadata.MD         { return nil }
func (s *stream[T]) CloseSend() error             { return nil }
func (s *stream[T]) Context() context.Context     { return s.w.ctx }
func (s *stream[T]) SendMsg(any) error            { return nil }
func (s *stream[T]) RecvMsg(m any) error {
	v, err := s.Recv()
	if err != nil {
		return err
	}
	proto.Merge(m.(proto.Message), any(v).(proto.Message))
	return nil
}

var (
	_ registry.NetworkServiceRegistryClient         = (*nsRegistry)(nil)
	_ registry.NetworkServiceEndpointRegistryClient = (*nseRegistry)(nil)
)
