// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package kernelxc

import (
	"context"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/nsmesh/nsmesh/sdk/dataplane/kernel"
)

// DefaultAdoptionGrace is how long links left by an earlier run are kept for
// adoption when WithAdoptionGrace is not given. It matches the default
// maximum token lifetime: a live connection is refreshed before its token
// expires.
const DefaultAdoptionGrace = 10 * time.Minute

// Option configures New.
type Option func(*options)

type options struct {
	host   *kernel.NetNS
	logger logrus.FieldLogger
	grace  time.Duration
	scan   func() ([]*kernel.NetNS, error)
	// deleteByMark is kernel.DeleteByMark; tests make it fail.
	deleteByMark func(context.Context, logrus.FieldLogger, *kernel.NetNS, kernel.Mark) (int, error)
	stateDir     string

	wgKeys      WireGuardKeys
	wgKeepalive time.Duration
}

// WithHostNetNS sets the namespace that holds the vxlan UDP sockets and
// reaches the underlay (default: the calling thread's, i.e. the
// forwarder's). The caller keeps ownership of ns and must keep it open while
// the data plane is in use.
func WithHostNetNS(ns *kernel.NetNS) Option { return func(o *options) { o.host = ns } }

// WithLogger sets the logger (fields conn, duration, ...).
func WithLogger(l logrus.FieldLogger) Option { return func(o *options) { o.logger = l } }

// WithAdoptionGrace sets how long Start keeps links of an earlier run for
// adoption before pruning the unclaimed ones; 0 prunes at once.
func WithAdoptionGrace(d time.Duration) Option { return func(o *options) { o.grace = d } }

// WithStateDir makes the data plane remember the namespaces of its
// connections across restarts: it pins each one (a bind mount of its nsfs
// file) under dir while a connection of this owner uses it, and Start and
// Prune look for leftovers in the pinned namespaces as well as in the ones
// the scan of /proc and /run/netns finds. Data planes of different owners
// may share dir. Empty (the default): nothing is pinned. See "Remembered
// namespaces" in the package documentation for what it guarantees.
func WithStateDir(dir string) Option { return func(o *options) { o.stateDir = dir } }
