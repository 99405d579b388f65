// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package kernelxc

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	wgmech "github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/wireguard"
	"github.com/nsmesh/nsmesh/sdk/dataplane/kernel"
)

var (
	keySrc = wgmech.Key{1, 2, 3}
	keyDst = wgmech.Key{4, 5, 6}
)

func wgMech(params map[string]string) *networkservice.Mechanism {
	p := map[string]string{"src_ip": "10.0.0.1", "dst_ip": "10.0.0.2", "src_port": "51820", "dst_port": "51900",
		"src_public_key": keySrc.String(), "dst_public_key": keyDst.String()}
	for k, v := range params {
		if v == "" {
			delete(p, k)
		} else {
			p[k] = v
		}
	}
	return &networkservice.Mechanism{Cls: "REMOTE", Type: "WIREGUARD", Parameters: p}
}

func TestMakePlanWireguard(t *testing.T) {
	const nsc, nse = "file:///proc/10/fd/7", "file:///proc/10/fd/8"
	for _, tt := range []struct {
		name     string
		up, down *networkservice.Mechanism
		end      end
		remote   string
		own      wgmech.Key
		port     uint16
		peer     string
		peerKey  wgmech.Key
		mtuCap   int
	}{
		{
			name: "client node", up: kernelMech(nsc, "nsm-1"), down: wgMech(nil),
			end: end{"/proc/10/fd/7", "nsm-1", kernel.SideSrc}, remote: "10.0.0.2",
			own: keySrc, port: 51820, peer: "10.0.0.2:51900", peerKey: keyDst,
		},
		{
			name: "endpoint node", up: wgMech(map[string]string{"MTU": "1380"}), down: kernelMech(nse, "icmp-abc"),
			end: end{"/proc/10/fd/8", "icmp-abc", kernel.SideDst}, remote: "10.0.0.1",
			own: keyDst, port: 51900, peer: "10.0.0.1:51820", peerKey: keySrc, mtuCap: 1380,
		},
		{
			name: "ipv6 underlay", up: kernelMech(nsc, ""), down: wgMech(map[string]string{"src_ip": "fd00::1", "dst_ip": "fd00::2"}),
			end: end{"/proc/10/fd/7", derivedName("seg-1", kernel.SideSrc), kernel.SideSrc}, remote: "fd00::2",
			own: keySrc, port: 51820, peer: "[fd00::2]:51900", peerKey: keyDst,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pl, err := makePlan("fwd", pair(tt.up, tt.down))
			if err != nil {
				t.Fatal(err)
			}
			if pl.kind != kindWireguard || len(pl.ends) != 1 || pl.ends[0] != tt.end {
				t.Fatalf("kind %s ends %+v", pl.kind, pl.ends)
			}
			if pl.remote.String() != tt.remote || pl.mtuCap != tt.mtuCap {
				t.Errorf("remote %s mtu cap %d", pl.remote, pl.mtuCap)
			}
			w := pl.wg
			if w.public != tt.own || w.port != tt.port || w.peer.Endpoint != netip.MustParseAddrPort(tt.peer) || w.peer.PublicKey != tt.peerKey {
				t.Errorf("wg plan %+v", w)
			}
		})
	}
}

func TestMakePlanWireguardErrors(t *testing.T) {
	const nsc = "file:///proc/10/fd/7"
	for _, tt := range []struct {
		name string
		down *networkservice.Mechanism
		want string
	}{
		{"no dst ip", wgMech(map[string]string{"dst_ip": ""}), "must both be set"},
		{"mixed families", wgMech(map[string]string{"dst_ip": "fd00::2"}), "different families"},
		{"no dst port", wgMech(map[string]string{"dst_port": ""}), "must both be set"},
		{"bad src port", wgMech(map[string]string{"src_port": "x"}), "src_port"},
		{"no dst key", wgMech(map[string]string{"dst_public_key": ""}), "no dst_public_key"},
		{"bad src key", wgMech(map[string]string{"src_public_key": "AAAA"}), "decodes to 3 bytes"},
		{"bad mtu", wgMech(map[string]string{"MTU": "big"}), "MTU"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := makePlan("fwd", pair(kernelMech(nsc, "a"), tt.down))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
	if _, err := makePlan("fwd", pair(wgMech(nil), wgMech(nil))); err == nil || !strings.Contains(err.Error(), "unsupported mechanism pair") {
		t.Errorf("WIREGUARD on both sides: %v", err)
	}
	if _, err := makePlan("fwd", pair(wgMech(nil), vxlanMech(nil))); err == nil {
		t.Error("WIREGUARD to VXLAN accepted")
	}
}
