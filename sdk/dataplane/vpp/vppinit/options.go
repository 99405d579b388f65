// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package vppinit

import (
	"io"

	"github.com/sirupsen/logrus"
)

// DefaultVxlanPort is the VXLAN port opened when WithVxlanPort is not given.
const DefaultVxlanPort = 4789

// Option configures Init.
type Option func(*options)

type options struct {
	logger          logrus.FieldLogger
	vxlanPort       uint16
	wgFirst, wgLast uint16
}

// WithLogger sets the logger (default: discard).
func WithLogger(l logrus.FieldLogger) Option { return func(o *options) { o.logger = l } }

// WithVxlanPort sets the VXLAN UDP port the pinhole ACLs open (default
// DefaultVxlanPort; 0 keeps the default).
func WithVxlanPort(port uint16) Option { return func(o *options) { o.vxlanPort = port } }

// WithWireGuardPorts sets the WireGuard UDP port range first-last the
// pinhole ACLs open (default: none).
func WithWireGuardPorts(first, last uint16) Option {
	return func(o *options) { o.wgFirst, o.wgLast = first, last }
}

func newOptions(opts []Option) *options {
	o := &options{vxlanPort: DefaultVxlanPort}
	for _, opt := range opts {
		opt(o)
	}
	if o.vxlanPort == 0 {
		o.vxlanPort = DefaultVxlanPort
	}
	if o.logger == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		o.logger = l
	}
	return o
}
