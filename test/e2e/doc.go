// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package e2e holds the end-to-end tests of nsmesh: the five real binaries,
// built once by TestMain, run as a two-node mesh in network namespaces (see
// test/internal/mesh), and the tests check what a workload sees: its
// interfaces and addresses, ping both ways, a TCP transfer, and that closing
// connections or restarting a forwarder leaves no interface behind.
//
// heal_test.go holds the self-healing scenarios (issue 6): while a ping
// every 10 ms runs over a client's connection, components are killed and
// restarted (forwarders over veth, VXLAN and WireGuard, nsmgrs, the
// registry, an endpoint with its namespace, two at once, the client
// itself), the interface is deleted by hand, or the client stops while
// healing; each asserts a bound on lost pings or on the outage, then that
// every nsmgr holds the connection UP, the registry exactly the live
// forwarders and endpoints, the surviving nsmgrs and forwarders no more
// goroutines than before, and that closing the client leaves no interface.
// Their "HEAL-E2E" log lines are the numbers in docs/performance.md. The
// meshes run in plaintext development mode, except TestRemoteMTLS, where
// every process has an SVID of a development CA and every hop is mutual TLS.
//
// The tests need root and the ip command and skip with the reason
// otherwise. Every namespace they create is named nsme-<pid>-…; a run
// removes what a killed earlier run left. NSM_E2E_BIN=<dir> runs them
// against binaries built elsewhere (e.g. ./bin after make build).
package e2e
