// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package memory

// DefaultWatchBuffer is how many updates a watcher may lag behind before it
// is ended.
const DefaultWatchBuffer = 256

// Option configures a memory server.
type Option func(*options)

type options struct {
	buffer int
}

// WithWatchBuffer sets how many updates a watcher may lag behind (at least 1).
func WithWatchBuffer(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.buffer = n
		}
	}
}
