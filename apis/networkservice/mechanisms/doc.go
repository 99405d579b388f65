// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package mechanisms is the index of the mechanism packages below it. A
// mechanism says how a connection's packets reach the next hop; its type
// and parameter keys are strings on the wire, and these packages pin them
// to upstream's values:
//
//	cls        LOCAL, REMOTE
//	common     keys shared by several mechanisms; Tunnel accessors
//	kernel     LOCAL/KERNEL   Linux interface in the workload's netns
//	memif      LOCAL/MEMIF    shared-memory interface (VPP)
//	vfio       LOCAL/VFIO     SR-IOV VF for user space (names only)
//	vxlan      REMOTE/VXLAN   with the VNI parity rule
//	wireguard  REMOTE/WIREGUARD
//	ipsec      REMOTE/IPSEC
//	vlan       VLAN
//	srv6       REMOTE/SRV6    (names only)
//	noop       NOOP           no data plane
//
// Each typed package has ToMechanism, returning nil for a mechanism of
// another type, so `if k := kernel.ToMechanism(m); k != nil` selects and
// converts in one step.
package mechanisms
