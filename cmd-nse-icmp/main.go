// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Command nse-icmp is a network service endpoint like upstream's ICMP
// responder: it hands each client a point-to-point address pair and a
// kernel interface (made by the forwarder in the endpoint's own network
// namespace), so that clients can ping it. Configuration is read from NSM_*
// variables; run with -h to list them.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/nsmesh/nsmesh/cmd-nse-icmp/internal/app"
	"github.com/nsmesh/nsmesh/cmd-nse-icmp/internal/config"
	"github.com/nsmesh/nsmesh/sdk/tools/command"
)

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "-h" || os.Args[1] == "--help") {
		fmt.Println("nse-icmp: configured by environment variables:")
		_ = config.Usage(os.Stdout)
		return
	}
	cfg, err := config.FromEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, "nse-icmp:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := app.Run(ctx, cfg, command.NewLogger(ctx, cfg.LogLevel)); err != nil {
		fmt.Fprintln(os.Stderr, "nse-icmp:", err)
		stop()
		os.Exit(1) //nolint:gocritic // stop ran above
	}
}
