// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package kernel_test

import (
	"strings"
	"testing"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/kernel"
)

func TestNew(t *testing.T) {
	m := kernel.New("file:///proc/thread-self/ns/net")
	if m.GetCls() != "LOCAL" || m.GetType() != "KERNEL" || m.GetParameters()["inodeURL"] != "file:///proc/thread-self/ns/net" || len(m.GetParameters()) != 1 {
		t.Fatalf("New = %v", m)
	}
	if got := kernel.NetNSURLFromPath("/proc/42/ns/net"); got != "file:///proc/42/ns/net" {
		t.Errorf("NetNSURLFromPath = %q", got)
	}
}

func TestToMechanism(t *testing.T) {
	if kernel.ToMechanism(nil) != nil || kernel.ToMechanism(&networkservice.Mechanism{Type: "MEMIF"}) != nil {
		t.Fatal("ToMechanism must return nil for other types")
	}
	raw := &networkservice.Mechanism{Type: kernel.MECHANISM}
	k := kernel.ToMechanism(raw)
	if k == nil || k.Mechanism() != raw {
		t.Fatal("ToMechanism must wrap a KERNEL mechanism")
	}

	k.SetInterfaceName("nsm-1")
	k.SetNetNSURL("file:///proc/1/ns/net")
	k.SetNetNSInode("4026531992")
	k.SetPCIAddress("0000:01:00.1")
	k.SetDeviceTokenID("tok")
	k.SetSupportsVLAN(true)
	k.SetRouteLocalNet(true)
	k.SetIPTables4NatTemplate("-A X -o {{.NsmInterfaceName}} -j DNAT")
	if err := k.SetVLAN(100); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"name": "nsm-1", "inodeURL": "file:///proc/1/ns/net", "netnsInode": "4026531992",
		"pciAddress": "0000:01:00.1", "tokenID": "tok", "supportsVlan": "true", "routeLocalNet": "true",
		"IPTables4NatTemplate": "-A X -o {{.NsmInterfaceName}} -j DNAT", "vlan": "100",
	}
	for key, v := range want {
		if raw.Parameters[key] != v {
			t.Errorf("parameter %s = %q, want %q", key, raw.Parameters[key], v)
		}
	}
	if k.GetInterfaceName() != "nsm-1" || k.GetNetNSURL() != "file:///proc/1/ns/net" || k.GetNetNSInode() != "4026531992" ||
		k.GetPCIAddress() != "0000:01:00.1" || k.GetDeviceTokenID() != "tok" ||
		k.GetIPTables4NatTemplate() != want["IPTables4NatTemplate"] {
		t.Error("getters do not read back what setters wrote")
	}
	if v, err := k.SupportsVLAN(); !v || err != nil {
		t.Errorf("SupportsVLAN = %v, %v", v, err)
	}
	if v, err := k.RouteLocalNet(); !v || err != nil {
		t.Errorf("RouteLocalNet = %v, %v", v, err)
	}
	if v, err := k.VLAN(); v != 100 || err != nil {
		t.Errorf("VLAN = %v, %v", v, err)
	}
	if err := k.SetVLAN(4096); err == nil {
		t.Error("SetVLAN(4096) must fail")
	}
	raw.Parameters["vlan"] = "4096"
	if _, err := k.VLAN(); err == nil {
		t.Error("VLAN 4096 on the wire must be an error")
	}
	raw.Parameters["supportsVlan"] = "maybe"
	if _, err := k.SupportsVLAN(); err == nil {
		t.Error("supportsVlan=maybe must be an error")
	}
}

func TestNetNSPath(t *testing.T) {
	for _, tc := range []struct {
		url, want string
		wantErr   bool
	}{
		{url: "file:///proc/12/fd/7", want: "/proc/12/fd/7"},
		{url: "file:///run/netns/a%20b", want: "/run/netns/a b"},
		{url: "inode://4/4026532000", wantErr: true},
		{url: "", wantErr: true},
		{url: "file://", wantErr: true},
		{url: "%zz", wantErr: true},
	} {
		got, err := kernel.ToMechanism(kernel.New(tc.url)).NetNSPath()
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("NetNSPath(%q) = %q, %v", tc.url, got, err)
		}
	}
}

func TestValidateInterfaceName(t *testing.T) {
	for name, ok := range map[string]bool{
		"nsm-1":                true,
		"eth0":                 true,
		"a":                    true,
		"abcdefghijklmno":      true, // 15 bytes
		"abcdefghijklmnop":     false,
		"":                     false,
		".":                    false,
		"..":                   false,
		"...":                  true,
		"a/b":                  false,
		"a:b":                  false,
		"a b":                  false,
		"a\tb":                 false,
		"a\nb":                 false,
		"a\u00a0b":             false, // UTF-8 C2 A0: the A0 byte is a space to the kernel
		"é":                    true,
		strings.Repeat("é", 8): false, // 16 bytes
	} {
		if err := kernel.ValidateInterfaceName(name); (err == nil) != ok {
			t.Errorf("ValidateInterfaceName(%q) = %v, want ok=%v", name, err, ok)
		}
	}
}

func FuzzValidateInterfaceName(f *testing.F) {
	for _, s := range []string{"nsm-1", "", "..", "a/b", "abcdefghijklmnop", "a\u00a0b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := kernel.ValidateInterfaceName(name)
		if err == nil && (len(name) == 0 || len(name) > kernel.LinuxIfMaxLength || strings.ContainsAny(name, "/: \t\n")) {
			t.Fatalf("accepted %q", name)
		}
	})
}
