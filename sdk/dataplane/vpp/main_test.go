// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package vpp_test

import (
	"io"
	"log"
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// govpp's mock adapter prints every reply with the standard logger.
	log.SetOutput(io.Discard)
	if os.Getenv("NSM_TEST_GOVPP_LOG") != "" {
		log.SetOutput(os.Stderr)
	}
	goleak.VerifyTestMain(m)
}
