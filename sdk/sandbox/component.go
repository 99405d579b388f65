// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package sandbox

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/nsmesh/nsmesh/sdk/tools/grpcutils"
)

// process is one restartable server: build registers services on a fresh
// grpc.Server for each start and may start background work bound to ctx.
type process struct {
	name  string
	urls  []*url.URL
	build func(ctx context.Context, s *grpc.Server) error
	// serverOpts are the options of every grpc.Server (credentials).
	serverOpts []grpc.ServerOption

	mu     sync.Mutex
	cancel context.CancelFunc
	done   <-chan error
}

// start listens on the process's URLs (the same ones on every restart) and serves.
func (p *process) start(parent context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cancel != nil {
		return fmt.Errorf("sandbox: %s is already running", p.name)
	}
	ctx, cancel := context.WithCancel(parent)
	var listeners []net.Listener
	for i, u := range p.urls {
		l, err := listenRetry(ctx, u)
		if err != nil {
			cancel()
			for _, l := range listeners {
				_ = l.Close()
			}
			return fmt.Errorf("sandbox: start %s: %w", p.name, err)
		}
		// A tcp://127.0.0.1:0 URL becomes the port the kernel chose, kept for restarts.
		p.urls[i] = grpcutils.ListenerURL(l)
		listeners = append(listeners, l)
	}
	s := grpc.NewServer(p.serverOpts...)
	if err := p.build(ctx, s); err != nil {
		cancel()
		for _, l := range listeners {
			_ = l.Close()
		}
		return fmt.Errorf("sandbox: start %s: %w", p.name, err)
	}
	grpcutils.RegisterHealth(s)
	p.cancel = cancel
	p.done = grpcutils.Serve(ctx, s, time.Second, listeners...)
	return nil
}

// stop ends the process: its server, streams, timers and registrations.
func (p *process) stop() {
	p.mu.Lock()
	cancel, done := p.cancel, p.done
	p.cancel, p.done = nil, nil
	p.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}

func listenRetry(ctx context.Context, u *url.URL) (net.Listener, error) {
	var err error
	for range 50 {
		var l net.Listener
		if l, err = grpcutils.Listen(ctx, u); err == nil {
			return l, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil, err
}
