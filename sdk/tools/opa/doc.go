// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package opa evaluates user policies written in Rego with the Open Policy
// Agent, as additions to the native policies of the authorize elements.
//
// A Policy is one .rego file (package nsm; Rego v1 syntax, or the v0 syntax
// of upstream NSM's policies), compiled and prepared once when it is loaded;
// each call then only evaluates the prepared query data.nsm.valid, which must
// be true to allow; false or undefined (no rule matched) denies. A denial is
// codes.PermissionDenied "no sufficient privileges" with the policy's file,
// plus the value of data.nsm.reason when the policy defines it (evaluated
// only on denial); an evaluation error or a non-boolean result is
// codes.Internal.
//
// A JSON object in a file beside the policy with the same base name
// (allowed_clients.rego → allowed_clients.json) is the policy's data
// document: its top-level keys are data.<key> in Rego.
//
// Inputs, upstream's model (see the nsm reference §2.3):
//   - network service (ConnectionPolicies):
//     {"index":N,"path_segments":[{"name","id","token","expires":{"seconds","nanos"}}],
//     "auth_info":{"certificate":"<PEM of the peer's leaf or empty>"}} with
//     the segments the authorize element checks (the left side of the path
//     on a server, the whole path on a client). Unlike upstream, index is
//     present when it is 0.
//   - registry (RegistryPolicies):
//     {"resource_id","resource_name","resource_path_ids_map","path_segments":[{"token"}],"index"}
//     where resource_path_ids_map holds at most the entry of resource_name
//     (the path_ids of its owner's last registration), not every name, so
//     that a call costs the same however many names are registered.
//     Additions: "kind" ("ns" or "nse"), "unregister" (boolean) and
//     "auth_info" as above (the caller's certificate on a server, the
//     server's on a client).
//
// Load selects policy files with the masks of the NSM_*_POLICIES variables:
// comma-separated entries, each a file, a directory (its .rego files), a
// glob, or a directory followed by a regular expression for the file name
// (etc/nsm/opa/common/.*.rego, upstream's form). Upstream's built-in sets
// (masks under etc/nsm/opa/ that match no file on disk) are accepted and
// skipped: the authorize elements implement them natively.
package opa
