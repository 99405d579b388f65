// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package connect

import (
	"context"
	"net/url"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/status"

	"github.com/nsmesh/nsmesh/sdk/tools/grpcutils"
)

// conn is a shared connection to one URL.
type conn struct {
	p    *pool
	key  string
	cc   *grpc.ClientConn
	refs int         // guarded by p.mu
	idle *time.Timer // guarded by p.mu; set while refs == 0
}

// pool shares one connection per URL. A connection nobody uses stays open for
// the idle timeout, so that a stream of short Finds does not dial each time.
// When the pool's context is done every connection is closed; a call made
// after that dials anew and closes its connection when done.
type pool struct {
	ctx         context.Context
	dialOptions []grpc.DialOption
	dialTimeout time.Duration
	idleTimeout time.Duration

	mu    sync.Mutex
	conns map[string]*conn
}

func newPool(ctx context.Context, o *options) *pool {
	p := &pool{
		ctx:         ctx,
		dialOptions: append(append([]grpc.DialOption(nil), defaultDialOptions...), o.dialOptions...),
		dialTimeout: o.dialTimeout,
		idleTimeout: o.idleTimeout,
		conns:       make(map[string]*conn),
	}
	context.AfterFunc(ctx, p.closeAll)
	return p
}

// Reconnect quickly: a registry that restarts should be found again within a
// fraction of a registration's lifetime.
var defaultDialOptions = []grpc.DialOption{
	grpc.WithConnectParams(grpc.ConnectParams{
		Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 5 * time.Second},
		MinConnectTimeout: time.Second,
	}),
}

// acquire returns a ready connection to u, taking one use of it.
func (p *pool) acquire(ctx context.Context, u *url.URL) (*conn, error) {
	key := u.String()
	p.mu.Lock()
	c, ok := p.conns[key]
	if !ok {
		cc, err := grpc.NewClient(grpcutils.Target(u), p.dialOptions...)
		if err != nil {
			p.mu.Unlock()
			return nil, status.Errorf(codes.Internal, "registry: cannot dial %s: %v", u, err)
		}
		c = &conn{p: p, key: key, cc: cc}
		p.conns[key] = c
	}
	c.refs++
	if c.idle != nil {
		c.idle.Stop()
		c.idle = nil
	}
	p.mu.Unlock()
	if err := c.waitReady(ctx, u, p.dialTimeout); err != nil {
		c.release()
		return nil, err
	}
	return c, nil
}

// release gives up one use.
func (c *conn) release() {
	p := c.p
	p.mu.Lock()
	defer p.mu.Unlock()
	c.refs--
	if c.refs > 0 || p.conns[c.key] != c {
		return // still used, or already closed
	}
	if p.ctx.Err() != nil {
		c.closeLocked()
		return
	}
	c.idle = time.AfterFunc(p.idleTimeout, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if c.refs == 0 && p.conns[c.key] == c {
			c.closeLocked()
		}
	})
}

// closeLocked closes the connection; p.mu is held.
func (c *conn) closeLocked() {
	if c.idle != nil {
		c.idle.Stop()
		c.idle = nil
	}
	if c.p.conns[c.key] == c {
		delete(c.p.conns, c.key)
	}
	_ = c.cc.Close()
}

func (p *pool) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.closeLocked()
	}
}

func (c *conn) waitReady(parent context.Context, u *url.URL, timeout time.Duration) error {
	s := c.cc.GetState()
	if s == connectivity.Ready {
		return nil
	}
	if s == connectivity.TransientFailure {
		c.cc.ResetConnectBackoff()
	}
	c.cc.Connect()
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	for {
		s = c.cc.GetState()
		if s == connectivity.Ready {
			return nil
		}
		if !c.cc.WaitForStateChange(ctx, s) {
			if err := parent.Err(); err != nil {
				return status.FromContextError(err).Err()
			}
			return status.Errorf(codes.Unavailable, "registry: %s is not reachable within %s (connection %s)", u, timeout, s)
		}
	}
}
