// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Command nsc is the network service client of nsmesh: it joins the network
// services listed in NSM_NETWORK_SERVICES, each with a kernel interface in
// its own network namespace, keeps the connections alive, and closes them on
// SIGTERM or SIGINT. Configuration is read from NSM_* variables; run with -h
// to list them.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/nsmesh/nsmesh/cmd-nsc/internal/app"
	"github.com/nsmesh/nsmesh/cmd-nsc/internal/config"
	"github.com/nsmesh/nsmesh/sdk/tools/command"
)

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "-h" || os.Args[1] == "--help") {
		fmt.Println("nsc: configured by environment variables:")
		_ = config.Usage(os.Stdout)
		return
	}
	cfg, err := config.FromEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, "nsc:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := app.Run(ctx, cfg, command.NewLogger(ctx, cfg.LogLevel)); err != nil {
		fmt.Fprintln(os.Stderr, "nsc:", err)
		stop()
		os.Exit(1) //nolint:gocritic // stop ran above
	}
}
