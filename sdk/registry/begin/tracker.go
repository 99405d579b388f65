// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package begin

import (
	"context"
	"sync"
	"time"

	"github.com/nsmesh/nsmesh/sdk/core/metadata"
	"github.com/nsmesh/nsmesh/sdk/registry/grpcmetadata"
)

// entry is the state of one name.
type entry[R any] struct {
	name string
	lock chan struct{}
	meta *metadata.Map

	// Guarded by lock.
	reg     *R              // last registration the chain returned; nil until then
	ctx     context.Context // values of the last good Register, without its cancellation
	timeout time.Duration
	gone    bool
}

func (e *entry[R]) acquire(ctx context.Context) error {
	select {
	case e.lock <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (e *entry[R]) release() { <-e.lock }

// remember stores the outcome of a successful Register. Events get their own
// copy of the registry path: the original call may still be writing its
// answer header from its path when a timer fires.
func (e *entry[R]) remember(ctx context.Context, reg *R) {
	e.reg = reg
	e.ctx = context.WithoutCancel(grpcmetadata.Detach(ctx))
	e.timeout = DefaultEventTimeout
	if d, ok := ctx.Deadline(); ok {
		if left := time.Until(d); left > 0 {
			e.timeout = left
		}
	}
}

func (e *entry[R]) eventContext(limit time.Duration) (context.Context, context.CancelFunc) {
	d := e.timeout
	if limit > 0 && limit < d {
		d = limit
	}
	return context.WithTimeout(e.ctx, d)
}

// tracker maps names to entries.
type tracker[R any] struct {
	side metadata.Side
	mu   sync.Mutex
	m    map[string]*entry[R]
}

type insideKey struct{ t any }

func newTracker[R any](side metadata.Side) *tracker[R] {
	return &tracker[R]{side: side, m: make(map[string]*entry[R])}
}

// reentrant reports whether ctx already runs inside this tracker for name:
// such calls come from the chain itself and must not wait for their own lock.
func (t *tracker[R]) reentrant(ctx context.Context, name string) bool {
	v, _ := ctx.Value(insideKey{t}).(string)
	return v == name
}

// lockEntry returns the locked entry for name, creating it if needed.
func (t *tracker[R]) lockEntry(ctx context.Context, name string) (*entry[R], error) {
	for {
		t.mu.Lock()
		e, ok := t.m[name]
		if !ok {
			e = &entry[R]{name: name, lock: make(chan struct{}, 1), meta: metadata.NewMap()}
			t.m[name] = e
		}
		t.mu.Unlock()
		if err := e.acquire(ctx); err != nil {
			return nil, err
		}
		if !e.gone {
			return e, nil
		}
		// Dropped while we waited: start over with a fresh entry.
		e.release()
	}
}

// drop removes a locked entry.
func (t *tracker[R]) drop(e *entry[R]) {
	e.gone = true
	t.mu.Lock()
	if t.m[e.name] == e {
		delete(t.m, e.name)
	}
	t.mu.Unlock()
}

// dropIfEmpty removes a locked entry that never held a registration.
func (t *tracker[R]) dropIfEmpty(e *entry[R]) {
	if e.reg == nil {
		t.drop(e)
	}
}

func (t *tracker[R]) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}

// withEntry decorates ctx for calls of e's name.
func (t *tracker[R]) withEntry(ctx context.Context, e *entry[R], f EventFactory) context.Context {
	ctx = context.WithValue(ctx, insideKey{t}, e.name)
	ctx = context.WithValue(ctx, factoryKey{}, f)
	return metadata.WithMap(ctx, t.side, e.meta)
}

// runEvent runs fn for e under its lock in a new goroutine. fn gets the
// decorated event context.
func (t *tracker[R]) runEvent(e *entry[R], f EventFactory, opts []Option, fn func(ctx context.Context) error) <-chan error {
	var o eventOptions
	for _, opt := range opts {
		opt(&o)
	}
	ch := make(chan error, 1)
	go func() {
		lockCtx := context.Background()
		if o.cancel != nil {
			lockCtx = o.cancel
		}
		if err := e.acquire(lockCtx); err != nil {
			ch <- err
			return
		}
		defer e.release()
		if e.gone || e.reg == nil {
			ch <- ErrClosed
			return
		}
		if o.cancel != nil && o.cancel.Err() != nil {
			ch <- o.cancel.Err()
			return
		}
		ctx, cancel := e.eventContext(o.timeout)
		defer cancel()
		if o.cancel != nil {
			defer context.AfterFunc(o.cancel, cancel)()
		}
		ctx = t.withEntry(ctx, e, f)
		if o.cond != nil && !o.cond(ctx) {
			ch <- ErrSkipped
			return
		}
		ch <- fn(ctx)
	}()
	return ch
}
