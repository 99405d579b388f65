// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package srv6 names the REMOTE/SRV6 (segment routing over IPv6) mechanism
// and its parameter keys. nsmesh has no SRv6 data plane; the names exist so
// that the mechanism can be recognised and passed through.
package srv6

const (
	// MECHANISM is the Mechanism.type of SRv6 connections.
	MECHANISM = "SRV6"

	// SrcHostIP is the client host's management address.
	SrcHostIP = "src_host_ip"
	// DstHostIP is the endpoint host's management address.
	DstHostIP = "dst_host_ip"
	// SrcBSID is the client side's binding SID.
	SrcBSID = "src_bsid"
	// DstBSID is the endpoint side's binding SID.
	DstBSID = "dst_bsid"
	// SrcLocalSID is the client side's local SID.
	SrcLocalSID = "src_localsid"
	// DstLocalSID is the endpoint side's local SID.
	DstLocalSID = "dst_localsid"
	// SrcHostLocalSID is the client host's unique local SID.
	SrcHostLocalSID = "src_host_localsid"
	// DstHostLocalSID is the endpoint host's unique local SID.
	DstHostLocalSID = "dst_host_localsid"
	// SrcHardwareAddress is the client side's MAC address.
	SrcHardwareAddress = "src_hw_addr"
	// DstHardwareAddress is the endpoint side's MAC address.
	DstHardwareAddress = "dst_hw_addr"
)
