// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package vpp

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"go.fd.io/govpp/adapter/socketclient"
	"go.fd.io/govpp/api"
	"go.fd.io/govpp/core"

	"github.com/nsmesh/nsmesh/sdk/tools/log"
)

// DefaultSocketPath is where VPP's socksvr listens unless configured
// otherwise.
const DefaultSocketPath = socketclient.DefaultSocketName

const (
	firstRetry = 10 * time.Millisecond
	maxRetry   = 250 * time.Millisecond
	// maxHandshake bounds one connection attempt's wait for VPP's reply
	// to the client registration (govpp's own default).
	maxHandshake = 3 * time.Second
)

// Option configures Dial.
type Option func(*options)

type options struct {
	minTimeout time.Duration
	clientName string
	logger     logrus.FieldLogger
}

// WithMinOperationTimeout sets the least time every call is given (default
// DefaultMinOperationTimeout); zero or less turns the guarantee off.
func WithMinOperationTimeout(d time.Duration) Option {
	return func(o *options) { o.minTimeout = d }
}

// WithClientName sets the name this client registers with VPP (visible in
// `show api clients`); default "nsmesh".
func WithClientName(name string) Option { return func(o *options) { o.clientName = name } }

// WithLogger sets the logger of Dial's progress.
func WithLogger(l logrus.FieldLogger) Option { return func(o *options) { o.logger = l } }

// Conn is a connection to VPP's binary API. It implements api.Connection
// with the minimum operation timeout applied.
type Conn struct {
	api.Connection
	core      *core.Connection
	path      string
	closeOnce sync.Once
}

// Close disconnects from VPP. Calls after Close fail; Close is idempotent.
func (c *Conn) Close() error {
	c.closeOnce.Do(c.core.Disconnect)
	return nil
}

// SocketPath returns the path of the API socket the connection uses.
func (c *Conn) SocketPath() string { return c.path }

// Close closes a connection returned by Dial. It fails for any other
// api.Connection, which Dial did not open.
func Close(conn api.Connection) error {
	c, ok := conn.(*Conn)
	if !ok {
		return fmt.Errorf("vpp: close: %T is not a connection from Dial", conn)
	}
	return c.Close()
}

// Dial connects to VPP's API socket at socketPath (DefaultSocketPath when
// empty), waiting for the socket file and retrying until ctx ends. See the
// package documentation.
func Dial(ctx context.Context, socketPath string, opts ...Option) (api.Connection, error) {
	o := options{minTimeout: DefaultMinOperationTimeout, clientName: "nsmesh", logger: log.Discard()}
	for _, opt := range opts {
		opt(&o)
	}
	if socketPath == "" {
		socketPath = DefaultSocketPath
	}
	logger := o.logger.WithField("socket", socketPath)
	start := time.Now()
	var (
		lastErr  error
		appeared bool
		attempts int
	)
	for delay := firstRetry; ; delay = min(2*delay, maxRetry) {
		if err := ctx.Err(); err != nil {
			return nil, dialError(socketPath, appeared, attempts, lastErr, err)
		}
		switch _, err := os.Stat(socketPath); {
		case errors.Is(err, fs.ErrNotExist):
			// VPP has not created it yet.
		case err != nil:
			lastErr = err
		default:
			appeared = true
			attempts++
			c, err := connect(ctx, o, socketPath)
			if err == nil {
				logger.WithFields(logrus.Fields{"attempts": attempts, "duration": time.Since(start)}).Info("vpp: connected")
				return &Conn{Connection: WithMinTimeout(c, o.minTimeout), core: c, path: socketPath}, nil
			}
			lastErr = err
			logger.WithError(err).WithField("attempt", attempts).Debug("vpp: connect failed, retrying")
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, dialError(socketPath, appeared, attempts, lastErr, ctx.Err())
		case <-t.C:
		}
	}
}

// connect makes one attempt, its handshake bounded by what is left of ctx.
func connect(ctx context.Context, o options, path string) (*core.Connection, error) {
	handshake := maxHandshake
	if d, ok := ctx.Deadline(); ok {
		handshake = min(handshake, time.Until(d))
	}
	if handshake <= 0 {
		return nil, context.DeadlineExceeded
	}
	sc := socketclient.NewVppClient(path)
	sc.SetConnectTimeout(handshake)
	sc.SetClientName(o.clientName)
	return core.Connect(sc)
}

func dialError(path string, appeared bool, attempts int, last, cause error) error {
	if !appeared {
		return fmt.Errorf("vpp: dial %s: the API socket did not appear (is VPP running, and is its socksvr configured with this path?): %w", path, cause)
	}
	if last == nil {
		return fmt.Errorf("vpp: dial %s: %w", path, cause)
	}
	return fmt.Errorf("vpp: dial %s: no connection after %d attempts, last: %v: %w", path, attempts, last, cause)
}
