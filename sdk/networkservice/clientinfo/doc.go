// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package clientinfo labels a connection with where its client runs:
// nodeName, podName and clusterName from the environment variables
// NODE_NAME, POD_NAME and CLUSTER_NAME (nsm-reference §1.9).
//
// Guarantees:
//   - A label is set only when its variable is non-empty, and never over a
//     label the connection already has: the client's own labels win.
//   - The environment is read once, when the element is built.
//
// Placement: NSC client chains (NewClient) and the nsmgr server chain
// before forwarder selection (NewServer), so that {{.nodeName}} selectors
// can match.
package clientinfo
