// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package e2e holds the end-to-end tests of nsmesh: the five real binaries,
// built once by TestMain, run as a two-node mesh in network namespaces (see
// test/internal/mesh), and the tests check what a workload sees: its
// interfaces and addresses, ping both ways, a TCP transfer, and that closing
// connections or restarting a forwarder leaves no interface behind. The
// meshes run in plaintext development mode, except TestRemoteMTLS, where
// every process has an SVID of a development CA and every hop is mutual TLS.
//
// The tests need root and the ip command and skip with the reason
// otherwise. Every namespace they create is named nsme-<pid>-…; a run
// removes what a killed earlier run left. NSM_E2E_BIN=<dir> runs them
// against binaries built elsewhere (e.g. ./bin after make build).
package e2e
