// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package authorize

import (
	"context"
	"sync"
	"time"

	"github.com/nsmesh/nsmesh/apis/registry"
)

// sweepEvery is how often Register looks for expired owners to forget, so
// that names nobody unregistered do not pile up.
const sweepEvery = time.Minute

// owner is who registered a name first, while the name is held.
type owner struct {
	id string
	// pathIDs are the path_ids of the owner's own last registration.
	pathIDs []string
	// forms are, for network services (nil for endpoints), the last
	// registration as its registrant sent it and as the chain answered it,
	// without path_ids: the two ways to register it again unchanged (a
	// registry client's heal registers the answer).
	forms []*registry.NetworkService
	// expires is when the last registration ends; zero for never (network
	// services do not expire).
	expires time.Time
}

func (o *owner) expired(now time.Time) bool {
	return !o.expires.IsZero() && !now.Before(o.expires)
}

// owners maps names to owners and serialises the calls of each name.
type owners struct {
	mu        sync.Mutex
	m         map[string]*owner
	locks     map[string]*nameLock
	lastSweep time.Time
}

type nameLock struct {
	ch   chan struct{}
	refs int
}

func newOwners() *owners {
	return &owners{m: map[string]*owner{}, locks: map[string]*nameLock{}}
}

// lock waits until no other call holds name, or ctx ends.
func (s *owners) lock(ctx context.Context, name string) (unlock func(), err error) {
	s.mu.Lock()
	l, ok := s.locks[name]
	if !ok {
		l = &nameLock{ch: make(chan struct{}, 1)}
		s.locks[name] = l
	}
	l.refs++
	s.mu.Unlock()
	release := func() {
		s.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(s.locks, name)
		}
		s.mu.Unlock()
	}
	select {
	case l.ch <- struct{}{}:
		return func() { <-l.ch; release() }, nil
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
}

// get returns the owner of name, forgetting it when its registration
// expired. The caller holds name's lock.
func (s *owners) get(name string, now time.Time) (*owner, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.m[name]
	if ok && o.expired(now) {
		delete(s.m, name)
		return nil, false
	}
	return o, ok
}

// set records o as the owner of name and now and then forgets expired ones.
func (s *owners) set(name string, o *owner, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[name] = o
	if now.Sub(s.lastSweep) < sweepEvery {
		return
	}
	s.lastSweep = now
	for n, x := range s.m {
		if x.expired(now) {
			delete(s.m, n)
		}
	}
}

func (s *owners) remove(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, name)
}

// len reports how many names have owners; for tests.
func (s *owners) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}
