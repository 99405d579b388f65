// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package spiffe

import "time"

// SetSweepEvery changes how often trackers look for rotated SVIDs, for
// trackers made after the call; the returned func restores it.
func SetSweepEvery(d time.Duration) (restore func()) {
	old := sweepEvery.Swap(int64(d))
	return func() { sweepEvery.Store(old) }
}
