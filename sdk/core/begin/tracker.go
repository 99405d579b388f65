// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package begin

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/core/metadata"
)

// DefaultEventTimeout bounds an event whose originating Request had no deadline.
const DefaultEventTimeout = 15 * time.Second

// ErrClosed is returned by events for a connection that is closed or was never established.
var ErrClosed = errors.New("begin: connection is closed")

// EventFactory injects events for one connection into the chain after begin.
type EventFactory interface {
	// Request re-requests the last connection; the result arrives on the channel.
	Request(opts ...Option) <-chan error
	// Close closes the connection through the chain.
	Close(opts ...Option) <-chan error
}

// Option changes one event.
type Option func(*eventOptions)

type eventOptions struct {
	cancel   context.Context
	reselect bool
}

// CancelContext abandons the event when ctx is done before it starts.
func CancelContext(ctx context.Context) Option {
	return func(o *eventOptions) { o.cancel = ctx }
}

// WithReselect makes a client Request event close the old path, apply the
// chain's ReselectFunc and request anew. Servers ignore it.
func WithReselect() Option {
	return func(o *eventOptions) { o.reselect = true }
}

type factoryKey struct{}

// FromContext returns the EventFactory of the connection being handled, or nil
// outside a begin.
func FromContext(ctx context.Context) EventFactory {
	f, _ := ctx.Value(factoryKey{}).(EventFactory)
	return f
}

// entry is the state of one connection.
type entry struct {
	t    *tracker
	id   string
	lock chan struct{}
	meta *metadata.Map

	// Guarded by lock.
	req     *networkservice.NetworkServiceRequest // last good request, its connection as returned; nil until then
	ctx     context.Context                       // values of the last good request, without its cancellation
	timeout time.Duration
	gone    bool
}

func (e *entry) acquire(ctx context.Context) error {
	select {
	case e.lock <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (e *entry) release() { <-e.lock }

// remember stores the outcome of a successful Request.
func (e *entry) remember(ctx context.Context, req *networkservice.NetworkServiceRequest, conn *networkservice.Connection) {
	stored := req.Clone()
	stored.Connection = conn.Clone()
	// A successful Request means the path is up again; a stored
	// RESELECT_REQUESTED would make every later refresh tear the path down.
	stored.Connection.State = networkservice.State_UP
	e.req = stored
	e.ctx = context.WithoutCancel(ctx)
	e.timeout = DefaultEventTimeout
	if d, ok := ctx.Deadline(); ok {
		if left := time.Until(d); left > 0 {
			e.timeout = left
		}
	}
}

// tracker maps connection ids to entries. Server and client begin share it.
type tracker struct {
	side metadata.Side
	mu   sync.Mutex
	m    map[string]*entry
}

type insideKey struct{ t *tracker }

func newTracker(side metadata.Side) *tracker {
	return &tracker{side: side, m: make(map[string]*entry)}
}

// reentrant reports whether ctx already runs inside this tracker for id; such
// calls come from the chain itself and must not wait for their own lock.
func (t *tracker) reentrant(ctx context.Context, id string) bool {
	v, _ := ctx.Value(insideKey{t}).(string)
	return v == id
}

// lockEntry returns the locked entry for id, creating it when create is set.
func (t *tracker) lockEntry(ctx context.Context, id string, create bool) (*entry, error) {
	for {
		t.mu.Lock()
		e, ok := t.m[id]
		if !ok {
			if !create {
				t.mu.Unlock()
				return nil, nil
			}
			e = &entry{t: t, id: id, lock: make(chan struct{}, 1), meta: metadata.NewMap()}
			t.m[id] = e
		}
		t.mu.Unlock()
		if err := e.acquire(ctx); err != nil {
			return nil, err
		}
		if !e.gone {
			return e, nil
		}
		// Closed while we waited: start over with a fresh entry.
		e.release()
	}
}

// drop removes a locked entry.
func (t *tracker) drop(e *entry) {
	e.gone = true
	t.mu.Lock()
	if t.m[e.id] == e {
		delete(t.m, e.id)
	}
	t.mu.Unlock()
}

func (t *tracker) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}

// withEntry decorates ctx for calls of e's connection.
func (t *tracker) withEntry(ctx context.Context, e *entry, f EventFactory) context.Context {
	ctx = context.WithValue(ctx, insideKey{t}, e.id)
	ctx = context.WithValue(ctx, factoryKey{}, f)
	return metadata.WithMap(ctx, t.side, e.meta)
}

// runEvent runs fn for e under its lock in a new goroutine.
func runEvent(e *entry, opts []Option, fn func(o *eventOptions) error) <-chan error {
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
		if e.gone || e.req == nil {
			ch <- ErrClosed
			return
		}
		if o.cancel != nil && o.cancel.Err() != nil {
			ch <- o.cancel.Err()
			return
		}
		ch <- fn(&o)
	}()
	return ch
}

// eventContext returns the context an event runs with.
func eventContext(e *entry) (context.Context, context.CancelFunc) {
	return context.WithTimeout(e.ctx, e.timeout)
}
