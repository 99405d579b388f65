// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package netnstest is the scaffolding of the sdk's privileged tests: network
// namespaces, a veth pair between two of them, ICMP ping and a TCP echo
// inside a namespace.
//
// Guarantees:
//   - Names are unique: every namespace is nst-<RunID>-<tag>, where RunID
//     combines the process id with random bytes, so parallel test binaries
//     on one machine never meet; a test gives each namespace a distinct tag.
//   - Cleanup: whatever New or Veth creates is registered with tb.Cleanup
//     before the helper can fail, so a namespace is deleted on every exit
//     path (pass, t.Fatal, panic); NS.Remove deletes one early and the
//     cleanup then does nothing. Links live and die with their namespaces.
//   - Privilege: RequireRoot skips the test, saying which capabilities it
//     needs, when the process is not root; helpers assume it was called.
//   - Isolation: helpers only touch namespaces New made and links inside
//     them; nothing is created, changed or deleted in the test process's own
//     namespace, and no process-wide state (the calling thread's namespace
//     included) is left changed.
//   - Ping and TCPEcho assume no tools on the machine (no ping binary, no
//     ip command) and return errors instead of failing the test, so a test
//     can also assert that traffic does not pass.
package netnstest
