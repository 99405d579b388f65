// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package kernel describes the LOCAL/KERNEL mechanism: a Linux network
// interface placed in the workload's network namespace, which the
// mechanism names by a file URL (file:///proc/<pid>/ns/net, rewritten to
// inode://dev/ino and back by grpcfd while it crosses a unix socket).
package kernel

import (
	"errors"
	"fmt"
	"net/url"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/cls"
	"github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/common"
	"github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/internal/params"
)

const (
	// MECHANISM is the Mechanism.type of kernel interfaces.
	MECHANISM = "KERNEL"

	// NetNSURL is the key of the workload's netns URL.
	NetNSURL = common.InodeURL
	// InterfaceNameKey is the key of the interface name in the workload.
	InterfaceNameKey = common.InterfaceNameKey
	// NetNSInodeKey is the key of the netns inode.
	NetNSInodeKey = common.NetNSInodeKey
	// PCIAddressKey is the key of an SR-IOV device's PCI address.
	PCIAddressKey = common.PCIAddressKey
	// DeviceTokenIDKey is the key of the device token ID.
	DeviceTokenIDKey = common.DeviceTokenIDKey
	// SupportsVLAN is set ("true"/"false") by a forwarder that can trunk VLANs.
	SupportsVLAN = "supportsVlan"
	// VLAN is the VLAN ID (0-4095) to put the interface on.
	VLAN = "vlan"
	// RouteLocalNet asks for net.ipv4.conf.<if>.route_localnet.
	RouteLocalNet = "routeLocalNet"
	// IPTables4NatTemplate is a Go text/template of ';'-separated iptables
	// NAT rules with the variables NsmInterfaceName, NsmSrcIPs and NsmDstIPs.
	IPTables4NatTemplate = "IPTables4NatTemplate"

	// NetNSURLScheme is the scheme a usable NetNSURL has.
	NetNSURLScheme = "file"
	// LinuxIfMaxLength is the longest interface name Linux accepts
	// (IFNAMSIZ-1).
	LinuxIfMaxLength = 15
	// MaxVLAN is the largest VLAN ID.
	MaxVLAN = 4095
)

// Mechanism is a typed view of a KERNEL mechanism; setters write through to
// the wrapped *networkservice.Mechanism.
type Mechanism struct {
	m *networkservice.Mechanism
}

// New returns a LOCAL/KERNEL mechanism for the netns at netnsURL, the form a
// client offers in its mechanism preferences.
func New(netnsURL string) *networkservice.Mechanism {
	return &networkservice.Mechanism{
		Cls:        cls.LOCAL,
		Type:       MECHANISM,
		Parameters: map[string]string{NetNSURL: netnsURL},
	}
}

// NetNSURLFromPath turns a netns file path into the URL New expects.
func NetNSURLFromPath(path string) string {
	return (&url.URL{Scheme: NetNSURLScheme, Path: path}).String()
}

// ToMechanism returns the kernel view of m, or nil when m is not a KERNEL
// mechanism.
func ToMechanism(m *networkservice.Mechanism) *Mechanism {
	if m.GetType() != MECHANISM {
		return nil
	}
	return &Mechanism{m: m}
}

// Mechanism returns the wrapped mechanism.
func (k *Mechanism) Mechanism() *networkservice.Mechanism { return k.m }

// GetNetNSURL returns the netns URL.
func (k *Mechanism) GetNetNSURL() string { return params.String(k.m, NetNSURL) }

// SetNetNSURL sets the netns URL.
func (k *Mechanism) SetNetNSURL(u string) { params.SetString(k.m, NetNSURL, u) }

// NetNSPath returns the file path of the netns URL. It fails for an inode://
// URL, which means the file descriptor was not received through grpcfd.
func (k *Mechanism) NetNSPath() (string, error) {
	raw := k.GetNetNSURL()
	if raw == "" {
		return "", errors.New("kernel: mechanism has no netns URL (parameter " + NetNSURL + ")")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("kernel: netns URL %q: %w", raw, err)
	}
	if u.Scheme != NetNSURLScheme || u.Path == "" {
		return "", fmt.Errorf("kernel: netns URL %q: want %s:///path (was the file passed with grpcfd?)", raw, NetNSURLScheme)
	}
	return u.Path, nil
}

// GetInterfaceName returns the requested interface name, empty when the
// receiving side should choose one.
func (k *Mechanism) GetInterfaceName() string { return params.String(k.m, InterfaceNameKey) }

// SetInterfaceName sets the interface name; it does not validate (see
// ValidateInterfaceName) so that a forwarder can report a bad name with
// context.
func (k *Mechanism) SetInterfaceName(name string) { params.SetString(k.m, InterfaceNameKey, name) }

// GetNetNSInode returns the netns inode.
func (k *Mechanism) GetNetNSInode() string { return params.String(k.m, NetNSInodeKey) }

// SetNetNSInode sets the netns inode.
func (k *Mechanism) SetNetNSInode(inode string) { params.SetString(k.m, NetNSInodeKey, inode) }

// GetPCIAddress returns the SR-IOV device's PCI address.
func (k *Mechanism) GetPCIAddress() string { return params.String(k.m, PCIAddressKey) }

// SetPCIAddress sets the SR-IOV device's PCI address.
func (k *Mechanism) SetPCIAddress(addr string) { params.SetString(k.m, PCIAddressKey, addr) }

// GetDeviceTokenID returns the device token ID.
func (k *Mechanism) GetDeviceTokenID() string { return params.String(k.m, DeviceTokenIDKey) }

// SetDeviceTokenID sets the device token ID.
func (k *Mechanism) SetDeviceTokenID(id string) { params.SetString(k.m, DeviceTokenIDKey, id) }

// SupportsVLAN reports whether the forwarder announced VLAN trunking.
func (k *Mechanism) SupportsVLAN() (bool, error) { return params.Bool(k.m, SupportsVLAN) }

// SetSupportsVLAN announces (or withdraws) VLAN trunking support.
func (k *Mechanism) SetSupportsVLAN(v bool) { params.SetBool(k.m, SupportsVLAN, v) }

// VLAN returns the VLAN ID, 0 when unset.
func (k *Mechanism) VLAN() (uint16, error) {
	v, err := params.Uint(k.m, VLAN, 16)
	if err == nil && v > MaxVLAN {
		err = fmt.Errorf("kernel: parameter %s=%d is above %d", VLAN, v, MaxVLAN)
	}
	if err != nil {
		return 0, err
	}
	return uint16(v), nil
}

// SetVLAN sets the VLAN ID.
func (k *Mechanism) SetVLAN(id uint16) error {
	if id > MaxVLAN {
		return fmt.Errorf("kernel: VLAN ID %d is above %d", id, MaxVLAN)
	}
	params.SetUint(k.m, VLAN, uint64(id))
	return nil
}

// RouteLocalNet reports whether route_localnet is requested.
func (k *Mechanism) RouteLocalNet() (bool, error) { return params.Bool(k.m, RouteLocalNet) }

// SetRouteLocalNet requests route_localnet.
func (k *Mechanism) SetRouteLocalNet(v bool) { params.SetBool(k.m, RouteLocalNet, v) }

// GetIPTables4NatTemplate returns the iptables NAT template.
func (k *Mechanism) GetIPTables4NatTemplate() string {
	return params.String(k.m, IPTables4NatTemplate)
}

// SetIPTables4NatTemplate sets the iptables NAT template.
func (k *Mechanism) SetIPTables4NatTemplate(tmpl string) {
	params.SetString(k.m, IPTables4NatTemplate, tmpl)
}

// ValidateInterfaceName applies the kernel's own rule (dev_valid_name): not
// empty, at most LinuxIfMaxLength bytes, not "." or "..", and no '/', ':' or
// whitespace.
func ValidateInterfaceName(name string) error {
	switch {
	case name == "":
		return errors.New("kernel: interface name is empty")
	case len(name) > LinuxIfMaxLength:
		return fmt.Errorf("kernel: interface name %q is %d bytes long, Linux allows at most %d", name, len(name), LinuxIfMaxLength)
	case name == "." || name == "..":
		return fmt.Errorf("kernel: interface name %q is reserved", name)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c == '/' || c == ':' || isKernelSpace(c) {
			return fmt.Errorf("kernel: interface name %q contains %q, which Linux does not allow", name, c)
		}
	}
	return nil
}

// isKernelSpace mirrors the kernel's isspace(), which works on bytes and also
// counts Latin-1 NBSP (0xa0), a byte that can occur inside UTF-8 names.
func isKernelSpace(c byte) bool {
	return c == ' ' || (c >= '\t' && c <= '\r') || c == 0xa0
}
