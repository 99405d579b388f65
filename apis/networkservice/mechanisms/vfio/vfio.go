// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package vfio names the LOCAL/VFIO mechanism (an SR-IOV virtual function
// handed to a user-space workload through /dev/vfio) and its parameter keys.
// nsmesh has no VFIO data plane; the names exist so that the mechanism can
// be recognised and passed through.
package vfio

import "github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/common"

const (
	// MECHANISM is the Mechanism.type of VFIO devices.
	MECHANISM = "VFIO"

	// CgroupDirKey is the workload's devices cgroup directory.
	CgroupDirKey = "cgroupDir"
	// IommuGroupKey is the device's IOMMU group number.
	IommuGroupKey = "iommuGroup"
	// PCIAddressKey is the device's PCI address.
	PCIAddressKey = common.PCIAddressKey
	// DeviceTokenIDKey is the device token ID.
	DeviceTokenIDKey = common.DeviceTokenIDKey
	// VfioMajorKey is the major number of /dev/vfio/vfio.
	VfioMajorKey = "vfioMajor"
	// VfioMinorKey is the minor number of /dev/vfio/vfio.
	VfioMinorKey = "vfioMinor"
	// DeviceMajorKey is the major number of /dev/vfio/<group>.
	DeviceMajorKey = "deviceMajor"
	// DeviceMinorKey is the minor number of /dev/vfio/<group>.
	DeviceMinorKey = "deviceMinor"
)
