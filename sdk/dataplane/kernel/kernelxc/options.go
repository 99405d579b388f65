// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package kernelxc

import (
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
