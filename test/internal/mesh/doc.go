// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package mesh runs the real nsmesh binaries as a mesh of network
// namespaces on one Linux host, for the end-to-end tests, the benchmarks and
// anything else that needs the data plane for real.
//
// A mesh is two "nodes", each a network namespace holding an nsmgr and a
// kernel forwarder, joined by a veth underlay (192.0.2.1 and 192.0.2.2, which
// exist only inside those namespaces). The registry runs in node 1's
// namespace. Endpoints and clients run in workload namespaces of their own;
// the forwarders move interfaces into them through the namespace descriptors
// passed over the unix sockets, which live in the mesh's directory on the
// shared filesystem.
//
// Guarantees:
//   - Isolation: every namespace is named <prefix>-<role>, where the prefix
//     holds the creating process id and a random part, and every forwarder is
//     named after the prefix too, so two meshes on one host (two test runs,
//     the demo) never touch each other's interfaces. Nothing is created in
//     the host's own namespace.
//   - Cleanup: Close stops every process (SIGTERM, then SIGKILL after a
//     bound), deletes every namespace and removes the directory, whatever
//     state a failed start left. Processes also get SIGKILL when the process
//     that started them dies. RemoveStale deletes what a killed run left.
//   - Logs: every process writes to <dir>/<name>.log; Logs returns their
//     tails for a failure report.
//
// Identity: processes run in the plaintext development mode
// (NSM_INSECURE=true) unless Config.MTLS, which gives each one an X.509-SVID
// of a development CA made with `nsmctl devca` in the mesh's directory.
//
// Measuring and inspecting: a Pinger sends an echo request every few
// milliseconds and reports lost requests and the longest outage;
// Registrations and Connections ask the registry and an nsmgr what they
// hold, and Goroutines asks an nsmgr's or forwarder's pprof server (with
// Config.Pprof) how many goroutines it runs. Restart* kill or stop a
// component and start it again in place.
//
// Waiting is always polling with a deadline taken from the caller's context.
package mesh
