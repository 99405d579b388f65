// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Command forwarder-vpp is the VPP forwarder of nsmesh: it connects workloads
// through VPP (taps into their namespaces, VXLAN and WireGuard between
// nodes), attached to an external VPP or to one it starts. Configuration is
// read from NSM_* variables; run with -h to list them.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/nsmesh/nsmesh/cmd-forwarder-vpp/internal/app"
	"github.com/nsmesh/nsmesh/cmd-forwarder-vpp/internal/config"
	"github.com/nsmesh/nsmesh/sdk/tools/command"
)

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "-h" || os.Args[1] == "--help") {
		fmt.Println("forwarder-vpp: configured by environment variables:")
		_ = config.Usage(os.Stdout)
		return
	}
	cfg, err := config.FromEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, "forwarder-vpp:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := app.Run(ctx, cfg, command.NewLogger(ctx, cfg.LogLevel)); err != nil {
		fmt.Fprintln(os.Stderr, "forwarder-vpp:", err)
		stop()
		os.Exit(1) //nolint:gocritic // stop ran above
	}
}
