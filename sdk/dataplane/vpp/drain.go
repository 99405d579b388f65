// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package vpp

import (
	"errors"
	"io"
)

// DumpStream is a generated binapi dump client (RPCService_*DumpClient):
// details messages of type T until io.EOF.
type DumpStream[T any] interface {
	Recv() (T, error)
	Close() error
}

// Drain reads a dump stream to its end, handing every details message to
// each. On an error other than the end it closes the stream and returns the
// error.
func Drain[T any](s DumpStream[T], each func(T)) error {
	for {
		d, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			_ = s.Close()
			return err
		}
		each(d)
	}
}
