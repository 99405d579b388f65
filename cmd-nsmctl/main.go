// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Command nsmctl is the operator's tool of nsmesh. Today it makes
// development trust domains (`nsmctl devca`); see README.md.
package main

import (
	"os"

	"github.com/nsmesh/nsmesh/cmd-nsmctl/internal/cli"
)

func main() {
	os.Exit(cli.Run(os.Args[1:], os.Stdout, os.Stderr))
}
