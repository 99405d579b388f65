// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package spire

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/nsmesh/nsmesh/test/internal/mesh"
)

// prefixRoot starts the names of every namespace these tests create
// (test/e2e uses nsme-).
const prefixRoot = "nsms-"

var (
	// skipReason is why the tests cannot run here, if they cannot.
	skipReason string
	// bin are the nsmesh binaries, spireBin SPIRE's, as TestMain found or
	// built them.
	bin      mesh.Binaries
	spireBin Binaries
	// runDir holds the binaries TestMain built and the directories of the
	// meshes and SPIRE deployments (so that an interrupted run removes
	// those of deployments still starting too).
	runDir string

	// closers take down what is running (meshes, SPIRE) on a signal.
	liveMu sync.Mutex
	live   = map[any]func() error{}
)

// processStart is about when go test started this binary.
var processStart = time.Now()

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	flag.Parse()
	switch {
	case testing.Short():
		skipReason = "SPIRE end-to-end tests are skipped with -short (they build SPIRE, minutes the first time)"
	case os.Geteuid() != 0:
		skipReason = "SPIRE end-to-end tests need root (network namespaces, veth devices); run them with sudo"
	default:
		if _, err := exec.LookPath("ip"); err != nil {
			skipReason = "SPIRE end-to-end tests need the ip command (Debian package iproute2; make setup installs it)"
		}
	}
	if skipReason != "" {
		return m.Run()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	if removed, err := mesh.RemoveStale(ctx, prefixRoot); err != nil {
		fmt.Fprintln(os.Stderr, "spire:", "removing namespaces of earlier runs:", err)
	} else if len(removed) > 0 {
		fmt.Fprintln(os.Stderr, "spire: removed namespaces of earlier runs:", removed)
	}
	var err error
	if runDir, err = os.MkdirTemp("", prefixRoot); err != nil {
		fmt.Fprintln(os.Stderr, "spire:", err)
		return 1
	}
	defer os.RemoveAll(runDir)

	// An interrupted run (from here on, the build included) still takes
	// down its processes and namespaces and removes its directory.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done, handled, built := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(handled)
		select {
		case <-done:
		case s := <-sigs:
			fmt.Fprintf(os.Stderr, "spire: %v: taking the meshes and SPIRE down\n", s)
			// A build under way stops first: it writes into runDir.
			cancel()
			select {
			case <-built:
			case <-time.After(10 * time.Second):
			}
			liveMu.Lock()
			for _, c := range live {
				_ = c()
			}
			liveMu.Unlock()
			// Meshes still starting are not in live yet.
			cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
			_, _ = mesh.RemoveAll(cctx, fmt.Sprintf("%s%d-", prefixRoot, os.Getpid()))
			ccancel()
			_ = os.RemoveAll(runDir)
			os.Exit(2)
		}
	}()
	code := build(ctx, filepath.Join(runDir, "bin"))
	close(built)
	if code == 0 {
		code = m.Run()
	}
	signal.Stop(sigs)
	close(done)
	<-handled
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "spire: goroutines left:", err)
			code = 1
		}
	}
	return code
}

// build finds or builds the nsmesh binaries (into dir) and SPIRE's.
func build(ctx context.Context, dir string) int {
	var root string
	needRoot := os.Getenv("NSM_E2E_BIN") == "" || os.Getenv("NSM_SPIRE_BIN") == ""
	if needRoot {
		var err error
		if root, err = mesh.RepoRoot(); err != nil {
			fmt.Fprintln(os.Stderr, "spire:", err)
			return 1
		}
	}
	if prebuilt := os.Getenv("NSM_E2E_BIN"); prebuilt != "" {
		bin = mesh.BinariesIn(prebuilt)
	} else {
		var err error
		if bin, err = mesh.Build(ctx, root, dir); err != nil {
			fmt.Fprintln(os.Stderr, "spire: building the nsmesh binaries:", err)
			return 1
		}
	}
	if prebuilt := os.Getenv("NSM_SPIRE_BIN"); prebuilt != "" {
		spireBin = BinariesIn(prebuilt)
		return 0
	}
	// go test kills this binary one minute after its -timeout, counted
	// from its start, while the tests' own alarm starts only after
	// TestMain: a first SPIRE build (minutes) must leave the tests their
	// time, else it ends here with what to do instead.
	buildCtx := ctx
	if budget, ok := buildBudget(); ok {
		var cancel context.CancelFunc
		buildCtx, cancel = context.WithTimeoutCause(ctx, budget,
			fmt.Errorf("not done within %s, what go test's -timeout leaves before it kills the tests; "+
				"the build cache keeps the progress: run `make spire` first, or go test -timeout 0", budget.Round(time.Second)))
		defer cancel()
	}
	start := time.Now()
	b, err := Build(buildCtx, root, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "spire: building SPIRE:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "spire: make spire took %s\n", time.Since(start).Round(time.Second))
	spireBin = b
	return 0
}

// testsNeed is the time the tests need after the build, with a margin.
const testsNeed = 3 * time.Minute

// buildBudget is how long the SPIRE build may take so that go test's kill
// (-timeout plus one minute after this binary started) leaves testsNeed;
// false when there is no timeout.
func buildBudget() (time.Duration, bool) {
	f := flag.Lookup("test.timeout")
	if f == nil {
		return 0, false
	}
	timeout, err := time.ParseDuration(f.Value.String())
	if err != nil || timeout <= 0 {
		return 0, false
	}
	return max(timeout+time.Minute-time.Since(processStart)-testsNeed, time.Second), true
}

// tempDir makes a directory in runDir for t, removed when t ends.
func tempDir(t *testing.T, pattern string) string {
	t.Helper()
	dir, err := os.MkdirTemp(runDir, pattern)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Error(err)
		}
	})
	return dir
}

// track registers closer for the signal handler until untrack.
func track(key any, closer func() error) {
	liveMu.Lock()
	defer liveMu.Unlock()
	live[key] = closer
}

func untrack(key any) {
	liveMu.Lock()
	defer liveMu.Unlock()
	delete(live, key)
}
