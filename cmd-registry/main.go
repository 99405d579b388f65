// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Command cmd-registry is the registry of network services and endpoints,
// with the in-memory backend. See README.md for its configuration.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/nsmesh/nsmesh/cmd-registry/internal/app"
	"github.com/nsmesh/nsmesh/cmd-registry/internal/config"
)

func main() {
	cfg, err := config.Load()
	if err != nil {
		fmt.Fprintf(os.Stderr, "cmd-registry: %v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := app.Run(ctx, cfg, app.NewLogger(cfg)); err != nil {
		fmt.Fprintf(os.Stderr, "cmd-registry: %v\n", err)
		stop()
		os.Exit(1)
	}
}
