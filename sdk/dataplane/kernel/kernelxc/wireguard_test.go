// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package kernelxc_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	wgmech "github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/wireguard"
	"github.com/nsmesh/nsmesh/sdk/dataplane/kernel"
	"github.com/nsmesh/nsmesh/sdk/dataplane/kernel/kernelxc"
	wgdp "github.com/nsmesh/nsmesh/sdk/dataplane/wireguard"
	"github.com/nsmesh/nsmesh/sdk/internal/netnstest"
	"github.com/nsmesh/nsmesh/sdk/networkservice/mechanisms/wireguard"
	"github.com/nsmesh/nsmesh/sdk/networkservice/xconnect"
)

// keyring is what the negotiation's Allocator is to the data plane.
type keyring map[wgmech.Key]wgmech.Key

func (k keyring) PrivateKey(public wgmech.Key) (wgmech.Key, bool) {
	p, ok := k[public]
	return p, ok
}

// add generates a key pair and returns the public key.
func (k keyring) add(t testing.TB) wgmech.Key {
	t.Helper()
	private, public, err := wireguard.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	k[public] = private
	return public
}

func wgMech(src, dst netip.Addr, srcPort, dstPort uint16, srcKey, dstKey wgmech.Key) *networkservice.Mechanism {
	return &networkservice.Mechanism{Cls: "REMOTE", Type: "WIREGUARD", Parameters: map[string]string{
		"src_ip": src.String(), "dst_ip": dst.String(), "src_port": fmt.Sprint(srcPort), "dst_port": fmt.Sprint(dstPort),
		"src_public_key": srcKey.String(), "dst_public_key": dstKey.String(),
	}}
}

func newWGDataplane(t *testing.T, tag string, host testNS, keys kernelxc.WireGuardKeys) *kernelxc.Dataplane {
	t.Helper()
	dp := newDataplane(t, owner(t, tag), kernelxc.WithHostNetNS(host.NetNS), kernelxc.WithWireGuard(keys))
	t.Cleanup(dp.Close)
	return dp
}

// marker is what the workloads send each other; it must never be seen on
// the underlay in clear.
func marker(t *testing.T) (mark, data []byte) {
	t.Helper()
	mark = make([]byte, 16)
	if _, err := rand.Read(mark); err != nil {
		t.Fatal(err)
	}
	return mark, bytes.Repeat(mark, 4096)
}

func portFree(t *testing.T, ns testNS, port int) bool {
	t.Helper()
	free := false
	if err := ns.Do(func() error {
		c, err := net.ListenUDP("udp", &net.UDPAddr{Port: port})
		if err == nil {
			free = true
			return c.Close()
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return free
}

func TestRemoteWireguard(t *testing.T) {
	netnstest.RequireRoot(t)
	for _, tc := range []struct {
		name     string
		ipA, ipB netip.Prefix
		mtu      int
	}{
		{"ipv4 underlay", netip.MustParsePrefix("10.220.0.1/24"), netip.MustParsePrefix("10.220.0.2/24"), 1500 - wgdp.OverheadIPv4},
		{"ipv6 underlay", netip.MustParsePrefix("fd00:220::1/64"), netip.MustParsePrefix("fd00:220::2/64"), 1500 - wgdp.OverheadIPv6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := netnstest.Context(t)
			n := netnstest.NewTwoNodes(t, "w"+tc.name[:2], tc.ipA, tc.ipB)
			keysA, keysB := keyring{}, keyring{}
			pubA, pubB := keysA.add(t), keysB.add(t)
			fwdA := newWGDataplane(t, "wa", n.NodeA, keysA)
			fwdB := newWGDataplane(t, "wb", n.NodeB, keysB)
			tunnel := wgMech(n.IPA, n.IPB, 51820, 51821, pubA, pubB)
			cc := p2pContext(0)
			clientSide := newPair("seg-fwd-a", kernelMech("file://"+n.WA.Path(), "nsm-w"), tunnel, cc, "IP")
			endpointSide := newPair("seg-fwd-b", tunnel.Clone(), kernelMech("file://"+n.WB.Path(), "icmp-w"), cc, "IP")

			cap := startCapture(t, n.NodeA, "ul-a")
			// The endpoint-side forwarder programs first, as in a real Request.
			if err := fwdB.Program(ctx, endpointSide); err != nil {
				t.Fatal(err)
			}
			if err := fwdA.Program(ctx, clientSide); err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				ns   testNS
				name string
				dp   *kernelxc.Dataplane
				conn string
			}{{n.WA, "nsm-w", fwdA, "seg-fwd-a"}, {n.WB, "icmp-w", fwdB, "seg-fwd-b"}} {
				if got, want := netnstest.Links(t, c.ns), []string{c.name + " tuntap"}; !reflect.DeepEqual(got, want) {
					t.Fatalf("links %v, want %v", got, want)
				}
				l := link(t, c.ns, c.name)
				if l.Attrs().MTU != tc.mtu {
					t.Errorf("%s mtu %d, want %d", c.name, l.Attrs().MTU, tc.mtu)
				}
				if m, _ := kernel.ParseMark(l.Attrs().Alias); m != (kernel.Mark{Owner: c.dp.Owner(), ConnID: c.conn}) {
					t.Errorf("%s alias %q", c.name, l.Attrs().Alias)
				}
			}
			for _, node := range []testNS{n.NodeA, n.NodeB} {
				if got := netnstest.Links(t, node); len(got) != 1 {
					t.Errorf("node %s links %v, want only the underlay", node.Name, got)
				}
			}
			pingBoth(t, n.WA, n.WB)
			mark, data := marker(t)
			tcpEcho(t, n.WA, n.WB, srcV4, dstV4, data)
			tcpEcho(t, n.WB, n.WA, dstV6, srcV6, data)

			frames := cap.finish()
			inner := []netip.Addr{srcV4, dstV4, srcV6, dstV6}
			if wg := underlayVerdict(t, frames, n.IPA, n.IPB, map[uint16]bool{51820: true, 51821: true}, inner, mark); wg < 10 {
				t.Errorf("only %d WireGuard datagrams on the underlay (%d frames): the traffic did not go through the tunnel", wg, len(frames))
			}

			// Refresh: nothing recreated, traffic flows.
			index := link(t, n.WA, "nsm-w").Attrs().Index
			for range 2 {
				if err := fwdA.Program(ctx, clientSide); err != nil {
					t.Fatal(err)
				}
				if err := fwdB.Program(ctx, endpointSide); err != nil {
					t.Fatal(err)
				}
			}
			if link(t, n.WA, "nsm-w").Attrs().Index != index {
				t.Error("refresh recreated the tunnel")
			}
			pingBoth(t, n.WA, n.WB)

			if err := fwdA.Unprogram(ctx, clientSide); err != nil {
				t.Fatal(err)
			}
			if err := fwdB.Unprogram(ctx, endpointSide); err != nil {
				t.Fatal(err)
			}
			for _, ns := range []testNS{n.WA, n.WB} {
				if got := netnstest.Links(t, ns); len(got) != 0 {
					t.Errorf("left in %s: %v", ns.Name, got)
				}
			}
			if !portFree(t, n.NodeA, 51820) || !portFree(t, n.NodeB, 51821) {
				t.Error("a WireGuard port is still bound after Unprogram")
			}
			if err := fwdA.Unprogram(ctx, clientSide); err != nil {
				t.Errorf("second Unprogram: %v", err)
			}
		})
	}
}

// TestCaptureSeesPlaintextVXLAN is the control for the capture: over VXLAN
// the same exchange is visible on the underlay, so the WireGuard test's
// verdict means something.
func TestCaptureSeesPlaintextVXLAN(t *testing.T) {
	netnstest.RequireRoot(t)
	ctx := netnstest.Context(t)
	n := netnstest.NewTwoNodes(t, "pv", netip.MustParsePrefix("10.221.0.1/24"), netip.MustParsePrefix("10.221.0.2/24"))
	fwdA := newDataplane(t, owner(t, "pa"), kernelxc.WithHostNetNS(n.NodeA.NetNS))
	fwdB := newDataplane(t, owner(t, "pb"), kernelxc.WithHostNetNS(n.NodeB.NetNS))
	tunnel := vxlanMech(n.IPA, n.IPB, 6001)
	a := newPair("pa", kernelMech("file://"+n.WA.Path(), "nsm-v"), tunnel, p2pContext(0), "IP")
	b := newPair("pb", tunnel.Clone(), kernelMech("file://"+n.WB.Path(), "icmp-v"), p2pContext(0), "IP")
	if err := fwdB.Program(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := fwdA.Program(ctx, a); err != nil {
		t.Fatal(err)
	}
	cap := startCapture(t, n.NodeA, "ul-a")
	mark, data := marker(t)
	tcpEcho(t, n.WA, n.WB, srcV4, dstV4, data)
	seen := 0
	for _, f := range cap.finish() {
		if bytes.Contains(f, mark) {
			seen++
		}
	}
	if seen == 0 {
		t.Error("the capture did not see the VXLAN payload: it would not see plaintext either")
	}
	_ = fwdA.Unprogram(ctx, a)
	_ = fwdB.Unprogram(ctx, b)
}

// TestWireguardPeerChanges: the endpoint-side forwarder restarts with new
// keys and port; the client side's refresh updates its peer in place.
func TestWireguardPeerChanges(t *testing.T) {
	netnstest.RequireRoot(t)
	ctx := netnstest.Context(t)
	n := netnstest.NewTwoNodes(t, "wr", netip.MustParsePrefix("10.222.0.1/24"), netip.MustParsePrefix("10.222.0.2/24"))
	keysA, keysB := keyring{}, keyring{}
	pubA, pubB := keysA.add(t), keysB.add(t)
	fwdA := newWGDataplane(t, "ra", n.NodeA, keysA)
	fwdB := newWGDataplane(t, "rb", n.NodeB, keysB)
	tunnel := wgMech(n.IPA, n.IPB, 51830, 51831, pubA, pubB)
	a := newPair("ra", kernelMech("file://"+n.WA.Path(), "nsm-w"), tunnel, p2pContext(0), "IP")
	b := newPair("rb", tunnel.Clone(), kernelMech("file://"+n.WB.Path(), "icmp-w"), p2pContext(0), "IP")
	for _, s := range []struct {
		dp *kernelxc.Dataplane
		p  *xconnect.Pair
	}{{fwdB, b}, {fwdA, a}} {
		if err := s.dp.Program(ctx, s.p); err != nil {
			t.Fatal(err)
		}
	}
	pingBoth(t, n.WA, n.WB)
	index := link(t, n.WA, "nsm-w").Attrs().Index

	// The endpoint side's forwarder dies: its tunnel goes with it.
	fwdB.Close()
	if got := netnstest.Links(t, n.WB); len(got) != 0 {
		t.Fatalf("the endpoint side's interface outlived its forwarder: %v", got)
	}
	restarted := keyring{}
	pubB2 := restarted.add(t)
	fwdB2 := newWGDataplane(t, "rb", n.NodeB, restarted)
	// A refresh with the old mechanism finds no private key in the new run.
	if err := fwdB2.Program(ctx, b); err == nil || !strings.Contains(err.Error(), "no private key") {
		t.Fatalf("old keys in a new run: %v", err)
	}
	if got := netnstest.Links(t, n.WB); len(got) != 0 {
		t.Errorf("a failed Program left %v", got)
	}
	// The re-request negotiates anew.
	tunnel = wgMech(n.IPA, n.IPB, 51830, 51832, pubA, pubB2)
	a = newPair("ra", kernelMech("file://"+n.WA.Path(), "nsm-w"), tunnel, p2pContext(0), "IP")
	b = newPair("rb", tunnel.Clone(), kernelMech("file://"+n.WB.Path(), "icmp-w"), p2pContext(0), "IP")
	if err := fwdB2.Program(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := fwdA.Program(ctx, a); err != nil {
		t.Fatal(err)
	}
	if link(t, n.WA, "nsm-w").Attrs().Index != index {
		t.Error("the client side's interface was recreated for a peer change")
	}
	pingBoth(t, n.WA, n.WB)
	_ = fwdA.Unprogram(ctx, a)
	_ = fwdB2.Unprogram(ctx, b)
}

func TestWireguardErrorsLeaveNothing(t *testing.T) {
	netnstest.RequireRoot(t)
	ctx := netnstest.Context(t)
	n := netnstest.NewTwoNodes(t, "we", netip.MustParsePrefix("10.223.0.1/24"), netip.MustParsePrefix("10.223.0.2/24"))
	keys := keyring{}
	pub := keys.add(t)
	_, peer, _ := wireguard.GenerateKey()
	good := func() *xconnect.Pair {
		return newPair("we", kernelMech("file://"+n.WA.Path(), "nsm-e"), wgMech(n.IPA, n.IPB, 51840, 51841, pub, peer), p2pContext(0), "IP")
	}

	plain := newDataplane(t, owner(t, "plain"), kernelxc.WithHostNetNS(n.NodeA.NetNS))
	if err := plain.Program(ctx, good()); !errors.Is(err, kernelxc.ErrUnsupported) {
		t.Errorf("without WithWireGuard: %v, want ErrUnsupported", err)
	}

	dp := newWGDataplane(t, "err", n.NodeA, keys)
	unknown := good()
	_, other, _ := wireguard.GenerateKey()
	unknown.Downstream.Mechanism.Parameters["src_public_key"] = other.String()
	if err := dp.Program(ctx, unknown); err == nil || !strings.Contains(err.Error(), "no private key") {
		t.Errorf("unknown key: %v", err)
	}

	var squatter *net.UDPConn
	if err := n.NodeA.Do(func() error {
		var err error
		squatter, err = net.ListenUDP("udp", &net.UDPAddr{Port: 51840})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := dp.Program(ctx, good()); err == nil || !strings.Contains(err.Error(), "51840") {
		t.Errorf("port taken: %v", err)
	}
	_ = squatter.Close()

	bad := good()
	bad.Upstream.Context.IpContext.SrcIpAddrs = []string{"not-an-address"}
	if err := dp.Program(ctx, bad); err == nil || !strings.Contains(err.Error(), "not-an-address") {
		t.Errorf("bad context: %v", err)
	}
	if got := netnstest.Links(t, n.WA); len(got) != 0 {
		t.Errorf("left after failed Programs: %v", got)
	}
	if got := dp.Connections(); len(got) != 0 {
		t.Errorf("failed connections are claimed: %v", got)
	}
	if !portFree(t, n.NodeA, 51840) {
		t.Error("a failed Program keeps the port")
	}

	// A working tunnel survives a failing refresh and a prune.
	if err := dp.Program(ctx, good()); err != nil {
		t.Fatal(err)
	}
	index := link(t, n.WA, "nsm-e").Attrs().Index
	if err := dp.Program(ctx, bad); err == nil {
		t.Fatal("refresh with a bad context succeeded")
	}
	if _, err := dp.Prune(ctx); err != nil {
		t.Fatal(err)
	}
	if l, err := netnstest.Handle(t, n.WA.NetNS).LinkByName("nsm-e"); err != nil || l.Attrs().Index != index {
		t.Errorf("the tunnel did not survive a failed refresh and a prune: %v", err)
	}
	if err := dp.Unprogram(ctx, good()); err != nil {
		t.Fatal(err)
	}
	if got := netnstest.Links(t, n.WA); len(got) != 0 {
		t.Errorf("left: %v", got)
	}
}

// TestWireguardMTU: the underlay's MTU minus the overhead, lowered by the
// context and the mechanism.
func TestWireguardMTU(t *testing.T) {
	netnstest.RequireRoot(t)
	ctx := netnstest.Context(t)
	n := netnstest.NewTwoNodes(t, "wm", netip.MustParsePrefix("10.224.0.1/24"), netip.MustParsePrefix("10.224.0.2/24"))
	keys := keyring{}
	pub := keys.add(t)
	_, peer, _ := wireguard.GenerateKey()
	dp := newWGDataplane(t, "mtu", n.NodeA, keys)
	for _, tc := range []struct {
		name     string
		ctxMTU   uint32
		mechMTU  string
		underlay int
		want     int
	}{
		{"underlay", 0, "", 1500, 1440},
		{"context smaller", 1300, "", 1500, 1300},
		{"mechanism smaller", 0, "1280", 1500, 1280},
		{"jumbo underlay", 0, "", 9000, 8940},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := netnstest.Handle(t, n.NodeA.NetNS).LinkSetMTU(link(t, n.NodeA, "ul-a"), tc.underlay); err != nil {
				t.Fatal(err)
			}
			m := wgMech(n.IPA, n.IPB, 51850, 51851, pub, peer)
			if tc.mechMTU != "" {
				m.Parameters["MTU"] = tc.mechMTU
			}
			if err := dp.Program(ctx, newPair("mtu", kernelMech("file://"+n.WA.Path(), "nsm-m"), m, p2pContext(tc.ctxMTU), "IP")); err != nil {
				t.Fatal(err)
			}
			if got := link(t, n.WA, "nsm-m").Attrs().MTU; got != tc.want {
				t.Errorf("mtu %d, want %d", got, tc.want)
			}
		})
	}
	_ = dp.Unprogram(ctx, newPair("mtu", kernelMech("file://"+n.WA.Path(), "nsm-m"), wgMech(n.IPA, n.IPB, 51850, 51851, pub, peer), nil, "IP"))
}
