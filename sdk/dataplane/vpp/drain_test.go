// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package vpp_test

import (
	"errors"
	"io"
	"slices"
	"testing"

	"github.com/nsmesh/nsmesh/sdk/dataplane/vpp"
)

type fakeStream struct {
	items  []int
	end    error
	closed bool
}

func (f *fakeStream) Recv() (int, error) {
	if len(f.items) == 0 {
		return 0, f.end
	}
	d := f.items[0]
	f.items = f.items[1:]
	return d, nil
}

func (f *fakeStream) Close() error { f.closed = true; return nil }

func TestDrain(t *testing.T) {
	broken := errors.New("broken")
	for _, tc := range []struct {
		name       string
		end        error
		wantErr    error
		wantClosed bool
	}{
		{"to the end", io.EOF, nil, false},
		{"broken stream", broken, broken, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &fakeStream{items: []int{1, 2, 3}, end: tc.end}
			var got []int
			err := vpp.Drain[int](s, func(d int) { got = append(got, d) })
			if !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if !slices.Equal(got, []int{1, 2, 3}) || s.closed != tc.wantClosed {
				t.Fatalf("got %v, closed %v; want [1 2 3], closed %v", got, s.closed, tc.wantClosed)
			}
		})
	}
}
