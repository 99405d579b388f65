// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package common holds the mechanism parameter keys that several mechanism
// types share, with upstream's exact string values, and Tunnel, the typed
// view of the parameters the IP tunnel mechanisms (VXLAN, WIREGUARD, IPSEC)
// have in common.
package common

const (
	// SrcIP is the tunnel source (client side) address.
	SrcIP = "src_ip"
	// DstIP is the tunnel destination (endpoint side) address.
	DstIP = "dst_ip"
	// SrcPort is the tunnel source UDP port.
	SrcPort = "src_port"
	// DstPort is the tunnel destination UDP port.
	DstPort = "dst_port"
	// SrcOriginalIP is the source address before any NAT rewrote src_ip.
	SrcOriginalIP = "orig_src_ip"
	// DstOriginalIP is the destination address before any NAT rewrote dst_ip.
	DstOriginalIP = "orig_dst_ip"
	// NetNSInodeKey is the inode of a workload's network namespace.
	NetNSInodeKey = "netnsInode"
	// InterfaceNameKey is the name of the interface to create in the workload.
	InterfaceNameKey = "name"
	// InodeURL is a file:// URL (or inode://dev/ino while grpcfd carries the
	// file) naming a file shared between processes, e.g. a netns.
	InodeURL = "inodeURL"
	// PCIAddressKey is the PCI address of an SR-IOV device.
	PCIAddressKey = "pciAddress"
	// DeviceTokenIDKey is the client/endpoint device token ID.
	DeviceTokenIDKey = "tokenID"
	// MTU is the mechanism's MTU in decimal.
	MTU = "MTU"
)
