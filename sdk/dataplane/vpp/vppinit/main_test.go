// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package vppinit_test

import (
	"io"
	"log"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// govpp's mock adapter prints every reply with the standard logger.
	log.SetOutput(io.Discard)
	goleak.VerifyTestMain(m)
}
