// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package main

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/sandbox"
)

// The example really serves: a sandbox client gets its greeting and an address.
func TestGreeterServesInAMesh(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	d := sandbox.New(ctx, t)
	dir, err := os.MkdirTemp("", "greeter-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	runCtx, stop := context.WithCancel(ctx)
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- run(runCtx, "greeter", "greetings", d.Nodes[0].NSMgr.UnixURL(), &url.URL{Scheme: "unix", Path: filepath.Join(dir, "g.sock")}, ready)
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatal(err)
	}
	nsc, err := d.Nodes[0].NewClient(ctx, "nsc")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := nsc.Request(ctx, &networkservice.NetworkServiceRequest{Connection: &networkservice.Connection{NetworkService: "greetings"}})
	if err != nil {
		t.Fatal(err)
	}
	if g := conn.GetContext().GetExtraContext()["greeting"]; g != "hello from greeter" {
		t.Fatalf("greeting %q", g)
	}
	if src := conn.GetContext().GetIpContext().GetSrcIpAddrs(); len(src) != 1 || src[0] != "172.31.0.1/32" {
		t.Fatalf("client address %v", src)
	}
	if _, err := nsc.Close(ctx, conn); err != nil {
		t.Fatal(err)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
