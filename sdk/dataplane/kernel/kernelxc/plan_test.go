// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package kernelxc

import (
	"errors"
	"net"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/dataplane/kernel"
	"github.com/nsmesh/nsmesh/sdk/networkservice/xconnect"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func kernelMech(url, name string) *networkservice.Mechanism {
	p := map[string]string{"inodeURL": url}
	if name != "" {
		p["name"] = name
	}
	return &networkservice.Mechanism{Cls: "LOCAL", Type: "KERNEL", Parameters: p}
}

func vxlanMech(params map[string]string) *networkservice.Mechanism {
	p := map[string]string{"src_ip": "10.0.0.1", "dst_ip": "10.0.0.2", "src_port": "4789", "dst_port": "4789", "vni": "42"}
	for k, v := range params {
		if v == "" {
			delete(p, k)
		} else {
			p[k] = v
		}
	}
	return &networkservice.Mechanism{Cls: "REMOTE", Type: "VXLAN", Parameters: p}
}

func pair(up, down *networkservice.Mechanism) *xconnect.Pair {
	return &xconnect.Pair{ID: "seg-1",
		Upstream:   &networkservice.Connection{Id: "seg-1", Mechanism: up},
		Downstream: &networkservice.Connection{Id: "seg-1", Mechanism: down}}
}

func TestMakePlan(t *testing.T) {
	const nsc, nse = "file:///proc/10/fd/7", "file:///proc/10/fd/8"
	for _, tt := range []struct {
		name          string
		up, down      *networkservice.Mechanism
		kind          kind
		ends          []end
		local, remote string
		port          int
		vni           uint32
		mtuCap        int
	}{
		{
			name: "local veth", up: kernelMech(nsc, "nsm-1"), down: kernelMech(nse, "icmp-abc"),
			kind: kindVeth,
			ends: []end{{"/proc/10/fd/7", "nsm-1", kernel.SideSrc}, {"/proc/10/fd/8", "icmp-abc", kernel.SideDst}},
		},
		{
			name: "local veth, names derived", up: kernelMech(nsc, ""), down: kernelMech(nse, ""),
			kind: kindVeth,
			ends: []end{{"/proc/10/fd/7", derivedName("seg-1", kernel.SideSrc), kernel.SideSrc}, {"/proc/10/fd/8", derivedName("seg-1", kernel.SideDst), kernel.SideDst}},
		},
		{
			name: "local veth, one namespace, one name", up: kernelMech(nsc, "same"), down: kernelMech(nsc, "same"),
			kind: kindVeth,
			ends: []end{{"/proc/10/fd/7", "same", kernel.SideSrc}, {"/proc/10/fd/7", derivedName("seg-1", kernel.SideDst), kernel.SideDst}},
		},
		{
			name: "client node", up: kernelMech(nsc, "nsm-1"), down: vxlanMech(nil),
			kind: kindVxlan, ends: []end{{"/proc/10/fd/7", "nsm-1", kernel.SideSrc}},
			local: "10.0.0.1", remote: "10.0.0.2", port: 4789, vni: 42,
		},
		{
			name: "endpoint node", up: vxlanMech(map[string]string{"MTU": "1400"}), down: kernelMech(nse, "icmp-abc"),
			kind: kindVxlan, ends: []end{{"/proc/10/fd/8", "icmp-abc", kernel.SideDst}},
			local: "10.0.0.2", remote: "10.0.0.1", port: 4789, vni: 42, mtuCap: 1400,
		},
		{
			name: "ports default", up: kernelMech(nsc, "a"), down: vxlanMech(map[string]string{"src_port": "", "dst_port": ""}),
			kind: kindVxlan, ends: []end{{"/proc/10/fd/7", "a", kernel.SideSrc}},
			local: "10.0.0.1", remote: "10.0.0.2", port: 4789, vni: 42,
		},
		{
			name: "one port given", up: kernelMech(nsc, "a"), down: vxlanMech(map[string]string{"src_port": "", "dst_port": "8472"}),
			kind: kindVxlan, ends: []end{{"/proc/10/fd/7", "a", kernel.SideSrc}},
			local: "10.0.0.1", remote: "10.0.0.2", port: 8472, vni: 42,
		},
		{
			name: "ipv6 underlay", up: kernelMech(nsc, "a"), down: vxlanMech(map[string]string{"src_ip": "fd00::1", "dst_ip": "fd00::2"}),
			kind: kindVxlan, ends: []end{{"/proc/10/fd/7", "a", kernel.SideSrc}},
			local: "fd00::1", remote: "fd00::2", port: 4789, vni: 42,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pl, err := makePlan("fwd", pair(tt.up, tt.down))
			if err != nil {
				t.Fatal(err)
			}
			if pl.kind != tt.kind || pl.mark != (kernel.Mark{Owner: "fwd", ConnID: "seg-1"}) {
				t.Fatalf("kind %s mark %s", pl.kind, pl.mark)
			}
			if len(pl.ends) != len(tt.ends) {
				t.Fatalf("ends %+v, want %+v", pl.ends, tt.ends)
			}
			for i := range tt.ends {
				if pl.ends[i] != tt.ends[i] {
					t.Errorf("end %d = %+v, want %+v", i, pl.ends[i], tt.ends[i])
				}
				if err := kernel.ValidateIfName(pl.ends[i].name); err != nil {
					t.Error(err)
				}
			}
			if tt.kind == kindVxlan {
				if !pl.local.Equal(net.ParseIP(tt.local)) || !pl.remote.Equal(net.ParseIP(tt.remote)) ||
					pl.port != tt.port || pl.vni != tt.vni || pl.mtuCap != tt.mtuCap {
					t.Errorf("tunnel local=%s remote=%s port=%d vni=%d mtu=%d", pl.local, pl.remote, pl.port, pl.vni, pl.mtuCap)
				}
			}
		})
	}
}

func TestMakePlanErrors(t *testing.T) {
	const nsc = "file:///proc/10/fd/7"
	for _, tt := range []struct {
		name string
		p    *xconnect.Pair
		want string
	}{
		{"no pair", nil, "without a connection id"},
		{"no id", &xconnect.Pair{}, "without a connection id"},
		{"vxlan both sides", pair(vxlanMech(nil), vxlanMech(nil)), "unsupported mechanism pair"},
		{"memif", pair(&networkservice.Mechanism{Cls: "LOCAL", Type: "MEMIF"}, kernelMech(nsc, "a")), "unsupported mechanism pair"},
		{"no upstream mechanism", pair(nil, kernelMech(nsc, "a")), "unsupported mechanism pair"},
		{"inode url not received", pair(kernelMech("inode://4/4026532", "a"), kernelMech(nsc, "b")), "grpcfd"},
		{"no netns url", pair(kernelMech("", "a"), kernelMech(nsc, "b")), "no netns URL"},
		{"bad interface name", pair(kernelMech(nsc, "way-too-long-interface"), kernelMech(nsc, "b")), "longer than 15"},
		{"no vni", pair(kernelMech(nsc, "a"), vxlanMech(map[string]string{"vni": ""})), "no VNI"},
		{"bad vni", pair(kernelMech(nsc, "a"), vxlanMech(map[string]string{"vni": "99999999"})), "24-bit"},
		{"no dst ip", pair(kernelMech(nsc, "a"), vxlanMech(map[string]string{"dst_ip": ""})), "must both be set"},
		{"mixed families", pair(kernelMech(nsc, "a"), vxlanMech(map[string]string{"dst_ip": "fd00::2"})), "different families"},
		{"asymmetric ports", pair(kernelMech(nsc, "a"), vxlanMech(map[string]string{"dst_port": "4790"})), "same port"},
		{"bad port", pair(kernelMech(nsc, "a"), vxlanMech(map[string]string{"dst_port": "70000"})), "16-bit"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := makePlan("fwd", tt.p)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
	_, err := makePlan("fwd", pair(vxlanMech(nil), vxlanMech(nil)))
	if !errors.Is(err, ErrUnsupported) {
		t.Errorf("%v does not wrap ErrUnsupported", err)
	}
}

func TestDerivedNameIsStableAndSided(t *testing.T) {
	a, b := derivedName("conn", kernel.SideSrc), derivedName("conn", kernel.SideDst)
	if a == b || a != derivedName("conn", kernel.SideSrc) || a == derivedName("conn2", kernel.SideSrc) {
		t.Fatalf("derived names %q %q", a, b)
	}
	if len(a) != kernel.MaxIfNameLen {
		t.Fatalf("len(%q) = %d", a, len(a))
	}
}

func TestNewValidatesOwner(t *testing.T) {
	for _, owner := range []string{"", "a:b"} {
		if _, err := New(owner); err == nil {
			t.Errorf("owner %q accepted", owner)
		}
	}
	if _, err := New("fwd", WithAdoptionGrace(-1)); err == nil {
		t.Error("negative grace accepted")
	}
}
