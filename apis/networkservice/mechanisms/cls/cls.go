// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package cls names the two mechanism classes: a LOCAL mechanism connects a
// workload to its own node's forwarder, a REMOTE one connects forwarders on
// different nodes. The values travel in Mechanism.cls.
package cls

const (
	// LOCAL is the class of mechanisms inside one node (KERNEL, MEMIF, VFIO ...).
	LOCAL = "LOCAL"
	// REMOTE is the class of mechanisms between nodes (VXLAN, WIREGUARD ...).
	REMOTE = "REMOTE"
)
