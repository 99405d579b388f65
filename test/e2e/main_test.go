// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/nsmesh/nsmesh/test/internal/mesh"
)

// prefixRoot starts the names of every namespace these tests create.
const prefixRoot = "nsme-"

var (
	// skipReason is why the privileged tests cannot run here, if they cannot.
	skipReason string
	// bin are the binaries TestMain built.
	bin mesh.Binaries
	// dir holds the binaries and the meshes' sockets and logs.
	dir string

	// live are the meshes not closed yet, for the signal handler.
	liveMu sync.Mutex
	live   = map[*mesh.Mesh]bool{}
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	switch {
	case os.Geteuid() != 0:
		skipReason = "end-to-end tests need root (network namespaces, veth and vxlan devices); run them with sudo"
	default:
		if _, err := exec.LookPath("ip"); err != nil {
			skipReason = "end-to-end tests need the ip command (Debian package iproute2; make setup installs it)"
		}
	}
	if skipReason != "" {
		return m.Run()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if removed, err := mesh.RemoveStale(ctx, prefixRoot); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: removing namespaces of earlier runs:", err)
	} else if len(removed) > 0 {
		fmt.Fprintln(os.Stderr, "e2e: removed namespaces of earlier runs:", removed)
	}
	var err error
	if dir, err = os.MkdirTemp("", "nsme-"); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	if prebuilt := os.Getenv("NSM_E2E_BIN"); prebuilt != "" {
		bin = mesh.BinariesIn(prebuilt)
	} else {
		root, err := mesh.RepoRoot()
		if err == nil {
			bin, err = mesh.Build(ctx, root, dir)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e: building the binaries:", err)
			return 1
		}
	}

	// An interrupted run still removes its namespaces and processes.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done, handled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(handled)
		select {
		case <-done:
		case s := <-sigs:
			fmt.Fprintf(os.Stderr, "e2e: %v: taking the meshes down\n", s)
			liveMu.Lock()
			for m := range live {
				_ = m.Close()
			}
			liveMu.Unlock()
			// A mesh still starting is not in live yet: its namespaces
			// carry this process's prefix, its processes die with it.
			cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if _, err := mesh.RemoveAll(cctx, fmt.Sprintf("%s%d-", prefixRoot, os.Getpid())); err != nil {
				fmt.Fprintln(os.Stderr, "e2e:", err)
			}
			cancel()
			_ = os.RemoveAll(dir)
			os.Exit(2)
		}
	}()
	code := m.Run()
	signal.Stop(sigs)
	close(done)
	<-handled
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: goroutines left:", err)
			code = 1
		}
	}
	return code
}

// newMesh starts a two-node mesh for t and takes it down when t ends,
// printing every process's log when t failed.
func newMesh(t *testing.T, cfg mesh.Config) *mesh.Mesh {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
	cfg.Bin = bin
	cfg.Prefix = mesh.NewPrefix(prefixRoot)
	// Under TestMain's directory, so that an interrupted run removes it too.
	meshDir, err := os.MkdirTemp(dir, "mesh-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(meshDir) })
	cfg.Dir = meshDir
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := mesh.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	liveMu.Lock()
	live[m] = true
	liveMu.Unlock()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs of the mesh (last lines of each process):\n%s", m.Logs(80))
		}
		liveMu.Lock()
		delete(live, m)
		liveMu.Unlock()
		if err := m.Close(); err != nil {
			t.Errorf("closing the mesh: %v", err)
		}
	})
	return m
}
