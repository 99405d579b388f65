// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package mechanisms_test

import (
	"testing"

	"github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/cls"
	"github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/common"
	"github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/ipsec"
	"github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/kernel"
	"github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/memif"
	"github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/noop"
	"github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/srv6"
	"github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/vfio"
	"github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/vlan"
	"github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/vxlan"
	"github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/wireguard"
	"github.com/nsmesh/nsmesh/apis/networkservice/payload"
)

// The strings are wire format: a peer running upstream NSM sends exactly
// these (nsm-reference §1.8). Renaming a constant's value breaks interop.
func TestWireStrings(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{cls.LOCAL, "LOCAL"}, {cls.REMOTE, "REMOTE"},
		{payload.IP, "IP"}, {payload.Ethernet, "ETHERNET"},

		{common.SrcIP, "src_ip"}, {common.DstIP, "dst_ip"},
		{common.SrcPort, "src_port"}, {common.DstPort, "dst_port"},
		{common.SrcOriginalIP, "orig_src_ip"}, {common.DstOriginalIP, "orig_dst_ip"},
		{common.NetNSInodeKey, "netnsInode"}, {common.InterfaceNameKey, "name"},
		{common.InodeURL, "inodeURL"}, {common.PCIAddressKey, "pciAddress"},
		{common.DeviceTokenIDKey, "tokenID"}, {common.MTU, "MTU"},

		{kernel.MECHANISM, "KERNEL"}, {kernel.NetNSURL, "inodeURL"}, {kernel.InterfaceNameKey, "name"},
		{kernel.NetNSInodeKey, "netnsInode"}, {kernel.PCIAddressKey, "pciAddress"},
		{kernel.DeviceTokenIDKey, "tokenID"}, {kernel.SupportsVLAN, "supportsVlan"}, {kernel.VLAN, "vlan"},
		{kernel.RouteLocalNet, "routeLocalNet"}, {kernel.IPTables4NatTemplate, "IPTables4NatTemplate"},
		{kernel.NetNSURLScheme, "file"},

		{memif.MECHANISM, "MEMIF"}, {memif.SocketFilename, "socketfile"}, {memif.SocketFileURL, "inodeURL"},
		{memif.NetNSURL, "inodeURL"}, {memif.FileScheme, "file"},

		{vxlan.MECHANISM, "VXLAN"}, {vxlan.SrcIP, "src_ip"}, {vxlan.DstIP, "dst_ip"}, {vxlan.SrcPort, "src_port"},
		{vxlan.DstPort, "dst_port"}, {vxlan.SrcOriginalIP, "orig_src_ip"}, {vxlan.DstOriginalIP, "orig_dst_ip"},
		{vxlan.VNI, "vni"}, {vxlan.MTU, "MTU"},

		{wireguard.MECHANISM, "WIREGUARD"}, {wireguard.SrcIP, "src_ip"}, {wireguard.DstIP, "dst_ip"},
		{wireguard.SrcPort, "src_port"}, {wireguard.DstPort, "dst_port"},
		{wireguard.SrcPublicKey, "src_public_key"}, {wireguard.DstPublicKey, "dst_public_key"}, {wireguard.MTU, "MTU"},

		{ipsec.MECHANISM, "IPSEC"}, {ipsec.SrcIP, "src_ip"}, {ipsec.DstIP, "dst_ip"},
		{ipsec.SrcPort, "src_port"}, {ipsec.DstPort, "dst_port"},
		{ipsec.SrcPublicKey, "src_public_key"}, {ipsec.DstPublicKey, "dst_public_key"}, {ipsec.MTU, "MTU"},

		{vlan.MECHANISM, "VLAN"}, {vlan.ID, "vlan-id"},

		{srv6.MECHANISM, "SRV6"}, {srv6.SrcHostIP, "src_host_ip"}, {srv6.DstHostIP, "dst_host_ip"},
		{srv6.SrcBSID, "src_bsid"}, {srv6.DstBSID, "dst_bsid"}, {srv6.SrcLocalSID, "src_localsid"},
		{srv6.DstLocalSID, "dst_localsid"}, {srv6.SrcHostLocalSID, "src_host_localsid"},
		{srv6.DstHostLocalSID, "dst_host_localsid"}, {srv6.SrcHardwareAddress, "src_hw_addr"},
		{srv6.DstHardwareAddress, "dst_hw_addr"},

		{vfio.MECHANISM, "VFIO"}, {vfio.CgroupDirKey, "cgroupDir"}, {vfio.IommuGroupKey, "iommuGroup"},
		{vfio.PCIAddressKey, "pciAddress"}, {vfio.DeviceTokenIDKey, "tokenID"}, {vfio.VfioMajorKey, "vfioMajor"},
		{vfio.VfioMinorKey, "vfioMinor"}, {vfio.DeviceMajorKey, "deviceMajor"}, {vfio.DeviceMinorKey, "deviceMinor"},

		{noop.MECHANISM, "NOOP"},
	} {
		if tc.got != tc.want {
			t.Errorf("constant is %q, upstream sends %q", tc.got, tc.want)
		}
	}
	if kernel.LinuxIfMaxLength != 15 {
		t.Errorf("LinuxIfMaxLength = %d, want 15", kernel.LinuxIfMaxLength)
	}
}
