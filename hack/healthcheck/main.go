// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Command healthcheck asks a gRPC server for grpc.health.v1.Health/Check and
// exits 0 only when the answer is SERVING. Every nsmesh image carries it as
// its HEALTHCHECK, because there is no grpc-health-probe to copy into an image
// built FROM scratch and the binaries have no probe mode of their own.
//
// It uses only the standard library (HTTP/2 without TLS, gRPC framing and the
// two-field health messages written by hand), so it is small and builds like
// hack/repocheck from its file list, without belonging to a module:
//
//	healthcheck [-service name] [-timeout 3s] [-default URL] [URL]
//
// URL is tcp://host:port or unix:///path. Without one, the first URL of
// $NSM_LISTEN_ON is probed (the container's own configuration, which Docker
// passes to HEALTHCHECK commands), else -default. An unspecified host
// (tcp://:5002) is probed on the loopback address.
//
// Transport security follows the component's own environment, which Docker
// passes to HEALTHCHECK commands too: with NSM_SVID_DIR the probe speaks
// mutual TLS presenting the component's SVID and checks the server's SVID
// against the bundle there; with NSM_INSECURE=true, or no identity at all, it
// speaks plaintext.
//
// Exit status: 0 SERVING; 1 anything else, with one line on stderr saying
// what was wrong. (Docker reserves status 2, so usage errors exit 1 too.)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck:", err)
		os.Exit(1)
	}
}

func run(args []string, getenv func(string) string) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	service := fs.String("service", "", "service name to ask about; empty: the server as a whole")
	timeout := fs.Duration("timeout", 3*time.Second, "bound on dialing and the call")
	def := fs.String("default", "", "URL probed when neither an argument nor $NSM_LISTEN_ON gives one")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w (usage: healthcheck [-service name] [-timeout 3s] [-default URL] [URL])", err)
	}
	if fs.NArg() > 1 {
		return errors.New("at most one URL")
	}
	raw, err := pickURL(fs.Arg(0), getenv("NSM_LISTEN_ON"), *def)
	if err != nil {
		return err
	}
	t, err := parseTarget(raw)
	if err != nil {
		return err
	}
	tlsConf, err := transportSecurity(getenv)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	status, err := check(ctx, t, *service, tlsConf)
	if err != nil {
		return fmt.Errorf("%s: %w", raw, err)
	}
	if status != statusServing {
		return fmt.Errorf("%s: %s", raw, status)
	}
	return nil
}
