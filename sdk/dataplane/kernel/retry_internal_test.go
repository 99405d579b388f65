// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package kernel

import (
	"errors"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
)

func TestRetryDumpOutlastsABurstOfChanges(t *testing.T) {
	tests := []struct {
		name        string
		interrupted int
		wantErr     error
		wantCalls   int
	}{
		{"clean dump", 0, nil, 1},
		{"interrupted a few times", 5, nil, 6},
		{"interrupted more than the plain retries of old", 20, nil, 21},
		{"never settles", 1000, netlink.ErrDumpInterrupted, dumpAttempts},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			start := time.Now()
			v, err := retryDumpWith(func() (int, error) {
				calls++
				if calls <= tt.interrupted {
					return -1, netlink.ErrDumpInterrupted
				}
				return 42, nil
			}, dumpAttempts, dumpPause)
			if !errors.Is(err, tt.wantErr) || calls != tt.wantCalls {
				t.Fatalf("err %v after %d calls, want %v after %d", err, calls, tt.wantErr, tt.wantCalls)
			}
			if err == nil && v != 42 {
				t.Fatalf("value %d", v)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Fatalf("took %v", took)
			}
		})
	}
}
