// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package kernelxc

import (
	"context"

	"github.com/sirupsen/logrus"

	"github.com/nsmesh/nsmesh/sdk/dataplane/kernel"
)

// WithScan replaces kernel.ScanNetNS, e.g. to hide namespaces the way a
// container's /proc hides other containers' processes.
func WithScan(f func() ([]*kernel.NetNS, error)) Option { return func(o *options) { o.scan = f } }

// DeleteByMarkFunc is the signature of kernel.DeleteByMark.
type DeleteByMarkFunc = func(context.Context, logrus.FieldLogger, *kernel.NetNS, kernel.Mark) (int, error)

// WithDeleteByMark replaces kernel.DeleteByMark, through which Unprogram
// and its retries delete links, so that tests can make it fail.
func WithDeleteByMark(f DeleteByMarkFunc) Option {
	return func(o *options) { o.deleteByMark = f }
}

// RemovalPause is the pause before retry n of a failed removal.
var RemovalPause = removalPause
