// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package vppxc

import (
	"github.com/nsmesh/nsmesh/sdk/networkservice/mechanisms/wireguard"
)

// WithConfigurer replaces the workload-side configuration (kernel.Configure)
// so that tests without a real VPP, whose taps do not exist, can record it.
func WithConfigurer(f configureFunc) Option { return func(o *options) { o.configure = f } }

// WithPrivateKeys sets the WireGuard key store directly, so that tests can
// use fixed keys.
func WithPrivateKeys(k wireguard.PrivateKeys) Option { return func(o *options) { o.wgKeys = k } }
