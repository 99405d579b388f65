// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package spire runs a real SPIRE server and agent (the version pinned in
// tools/spire, built by `make spire`) for the end-to-end tests, and its
// tests run the two-node mesh of test/internal/mesh on SVIDs from the SPIFFE
// Workload API instead of the development modes.
//
// SPIRE as Start sets it up: a server with a SQLite datastore and an
// in-memory CA in a temporary directory, listening on loopback; one agent
// attested with a join token, its Workload API socket in the same
// directory, and the unix workload attestor with discover_workload_path, so
// that components running as root are told apart by the path of their
// binary (selector unix:path:<path>). Workload entries (Config.Entries,
// CreateEntry) are parented to that agent. SVIDs are short-lived
// (Config.X509SVIDTTL), so the agent rotates them (at half their lifetime)
// while a test runs.
//
// Guarantees: Close stops the agent and the server (SIGTERM, then SIGKILL
// after a bound) and removes the directory, whatever state a failed Start
// left; the processes also get SIGKILL when the process that started them
// dies. Every process logs to <dir>/<name>.log; Logs returns the tails.
//
// The tests need root (network namespaces) and skip with the reason
// otherwise, and with -short (building SPIRE takes minutes the first time).
// TestMain runs `make spire`, which builds only when .bin/spire-server or
// .bin/spire-agent is older than tools/spire/go.mod or go.sum. go test
// kills a test binary one minute after its -timeout whatever TestMain does,
// so a first build (about ten minutes on two cores) is stopped in time with
// a message: run `make spire` before, or go test -timeout 0.
// NSM_SPIRE_BIN=<dir> uses binaries built elsewhere, NSM_E2E_BIN=<dir> the
// nsmesh binaries (as in test/e2e).
package spire
