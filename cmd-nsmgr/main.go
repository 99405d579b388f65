// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Command cmd-nsmgr is the Network Service Manager of one node. See README.md
// for its configuration.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/nsmesh/nsmesh/cmd-nsmgr/internal/app"
	"github.com/nsmesh/nsmesh/cmd-nsmgr/internal/config"
)

func main() {
	cfg, err := config.Load()
	if err != nil {
		fmt.Fprintf(os.Stderr, "cmd-nsmgr: %v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := app.Run(ctx, cfg); err != nil {
		fmt.Fprintf(os.Stderr, "cmd-nsmgr: %v\n", err)
		stop()
		os.Exit(1)
	}
}
