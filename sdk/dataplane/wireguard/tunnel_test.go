// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package wireguard_test

import (
	"errors"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/nsmesh/nsmesh/sdk/dataplane/kernel"
	"github.com/nsmesh/nsmesh/sdk/dataplane/wireguard"
	"github.com/nsmesh/nsmesh/sdk/internal/netnstest"
)

func TestMTUFor(t *testing.T) {
	if got := wireguard.MTUFor(1500, netip.MustParseAddr("192.0.2.1")); got != 1440 {
		t.Errorf("ipv4: %d", got)
	}
	if got := wireguard.MTUFor(1500, netip.MustParseAddr("::ffff:192.0.2.1")); got != 1440 {
		t.Errorf("ipv4-mapped: %d", got)
	}
	if got := wireguard.MTUFor(1500, netip.MustParseAddr("2001:db8::1")); got != 1420 {
		t.Errorf("ipv6: %d", got)
	}
}

func TestTunnel(t *testing.T) {
	netnstest.RequireRoot(t)
	for _, tc := range []struct {
		name     string
		ipA, ipB netip.Prefix
	}{
		{"ipv4 underlay", netip.MustParsePrefix("10.230.0.1/24"), netip.MustParsePrefix("10.230.0.2/24")},
		{"ipv6 underlay", netip.MustParsePrefix("fd00:230::1/64"), netip.MustParsePrefix("fd00:230::2/64")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := netnstest.NewTwoNodes(t, tc.name[:4], tc.ipA, tc.ipB)
			a, b := ends(t, n, 51820, 51821)
			tb := newTunnel(t, b) // the endpoint side first, as the forwarders do
			ta := newTunnel(t, a)
			configure(t, a, b)

			if got, want := netnstest.Links(t, n.WA), []string{"nsm-wg tuntap"}; !reflect.DeepEqual(got, want) {
				t.Fatalf("client workload links %v, want %v", got, want)
			}
			if got, want := netnstest.Links(t, n.NodeA), []string{"ul-a veth"}; !reflect.DeepEqual(got, want) {
				t.Errorf("node A links %v, want only the underlay", got)
			}
			l, err := netnstest.Handle(t, n.WA.NetNS).LinkByName("nsm-wg")
			if err != nil {
				t.Fatal(err)
			}
			if m, ok := kernel.ParseMark(l.Attrs().Alias); !ok || m != a.Mark {
				t.Errorf("alias %q, want mark %v", l.Attrs().Alias, a.Mark)
			}
			if l.Attrs().MTU != wireguard.MTUFor(1500, n.IPB) {
				t.Errorf("mtu %d", l.Attrs().MTU)
			}
			if err := exchange(n.WA, n.WB); err != nil {
				t.Fatal(err)
			}
			if err := exchange(n.WA, n.WB); err != nil { // and again, on the established session
				t.Fatal(err)
			}
			for _, tn := range []*wireguard.Tunnel{ta, tb} {
				s, err := tn.Stats()
				if err != nil {
					t.Fatal(err)
				}
				if s.LastHandshake.IsZero() || s.RxBytes == 0 || s.TxBytes == 0 {
					t.Errorf("stats %+v: want a handshake and traffic both ways", s)
				}
			}
			// The UDP sockets are in the node namespaces, not the workloads'.
			if !listening(t, n.NodeA, 51820) || listening(t, n.WA, 51820) {
				t.Error("the UDP socket is not (only) in the host namespace")
			}

			ta.Close()
			ta.Close()
			select {
			case <-ta.Done():
			case <-time.After(5 * time.Second):
				t.Fatal("Done not closed after Close")
			}
			if got := netnstest.Links(t, n.WA); len(got) != 0 {
				t.Errorf("left after Close: %v", got)
			}
			if listening(t, n.NodeA, 51820) {
				t.Error("the port is still bound after Close")
			}
			_ = tb
		})
	}
}

// listening reports whether a UDP port is bound in ns (by trying to bind it).
func listening(t *testing.T, ns *netnstest.NS, port int) bool {
	t.Helper()
	var taken bool
	if err := ns.Do(func() error {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{Port: port})
		if err != nil {
			taken = true
			return nil
		}
		return c.Close()
	}); err != nil {
		t.Fatal(err)
	}
	return taken
}

func TestUpdate(t *testing.T) {
	netnstest.RequireRoot(t)
	ctx := netnstest.Context(t)
	n := netnstest.NewTwoNodes(t, "upd", netip.MustParsePrefix("10.231.0.1/24"), netip.MustParsePrefix("10.231.0.2/24"))
	a, b := ends(t, n, 51830, 51831)
	tb := newTunnel(t, b) // the endpoint side first, as the forwarders do
	ta := newTunnel(t, a)
	configure(t, a, b)
	if err := exchange(n.WA, n.WB); err != nil {
		t.Fatal(err)
	}
	index := func() int {
		l, err := netnstest.Handle(t, n.WA.NetNS).LinkByName("nsm-wg")
		if err != nil {
			t.Fatal(err)
		}
		return l.Attrs().Index
	}
	before := index()
	hs, _ := ta.Stats()

	// The same configuration changes nothing: the session stays.
	if err := ta.Update(ctx, netnstest.Logger(t), a); err != nil {
		t.Fatal(err)
	}
	if after, _ := ta.Stats(); !after.LastHandshake.Equal(hs.LastHandshake) {
		t.Error("a no-op update restarted the session")
	}

	// The peer restarts with a new key and port; A learns it by an update.
	tb.Close()
	privB, pubB := keys(t)
	b.PrivateKey, b.ListenPort = privB, 51832
	tb = newTunnel(t, b)
	configure(t, a, b)
	a.Peer.PublicKey, a.Peer.Endpoint = pubB, netip.AddrPortFrom(n.IPB, 51832)
	// and A moves to another port and a smaller MTU on the way.
	a.ListenPort, a.MTU = 51833, 1300
	if err := ta.Update(ctx, netnstest.Logger(t), a); err != nil {
		t.Fatal(err)
	}
	// B learns A's new port from A's handshake: nothing to update there.
	if err := exchange(n.WA, n.WB); err != nil {
		t.Fatalf("after the peer changed: %v", err)
	}
	if index() != before {
		t.Error("the update recreated the interface")
	}
	l, _ := netnstest.Handle(t, n.WA.NetNS).LinkByName("nsm-wg")
	if l.Attrs().MTU != 1300 {
		t.Errorf("mtu %d, want 1300", l.Attrs().MTU)
	}
	if got := ta.Config(); got.ListenPort != 51833 || got.Peer != a.Peer || got.MTU != 1300 {
		t.Errorf("Config() = %+v", got)
	}

	moved := a
	moved.End.Name = "other"
	if err := ta.Update(ctx, netnstest.Logger(t), moved); !errors.Is(err, wireguard.ErrMoved) {
		t.Errorf("update to another name: %v, want ErrMoved", err)
	}
	ta.Close()
	if err := ta.Update(ctx, netnstest.Logger(t), a); !errors.Is(err, wireguard.ErrClosed) {
		t.Errorf("update after Close: %v, want ErrClosed", err)
	}
}

func TestNameConflicts(t *testing.T) {
	netnstest.RequireRoot(t)
	ctx := netnstest.Context(t)
	n := netnstest.NewTwoNodes(t, "name", netip.MustParsePrefix("10.232.0.1/24"), netip.MustParsePrefix("10.232.0.2/24"))
	a, _ := ends(t, n, 51840, 51841)

	// A foreign link holds the name: an error, and nothing created anywhere.
	foreign := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "nsm-wg"}, PeerName: "nsm-wg-p"}
	if err := netnstest.Handle(t, n.WA.NetNS).LinkAdd(foreign); err != nil {
		t.Fatal(err)
	}
	if _, err := wireguard.New(ctx, netnstest.Logger(t), a); err == nil || !strings.Contains(err.Error(), "taken") {
		t.Fatalf("New over a foreign link: %v", err)
	}
	if got, want := netnstest.Links(t, n.WA), []string{"nsm-wg veth", "nsm-wg-p veth"}; !reflect.DeepEqual(got, want) {
		t.Errorf("workload links %v, want %v", got, want)
	}
	if got := netnstest.Links(t, n.NodeA); !reflect.DeepEqual(got, []string{"ul-a veth"}) {
		t.Errorf("node links %v: a temporary TUN was left", got)
	}

	// A leftover carrying our mark is replaced.
	if err := netnstest.Handle(t, n.WA.NetNS).LinkDel(foreign); err != nil {
		t.Fatal(err)
	}
	leftover := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "nsm-wg"}, PeerName: "nsm-wg-p"}
	if err := netnstest.Handle(t, n.WA.NetNS).LinkAdd(leftover); err != nil {
		t.Fatal(err)
	}
	if err := netnstest.Handle(t, n.WA.NetNS).LinkSetAlias(leftover, a.Mark.Alias()); err != nil {
		t.Fatal(err)
	}
	newTunnel(t, a)
	if got, want := netnstest.Links(t, n.WA), []string{"nsm-wg tuntap"}; !reflect.DeepEqual(got, want) {
		t.Errorf("workload links %v, want %v", got, want)
	}
}

func TestPortInUse(t *testing.T) {
	netnstest.RequireRoot(t)
	n := netnstest.NewTwoNodes(t, "port", netip.MustParsePrefix("10.233.0.1/24"), netip.MustParsePrefix("10.233.0.2/24"))
	a, _ := ends(t, n, 51850, 51851)
	var squatter *net.UDPConn
	if err := n.NodeA.Do(func() error {
		var err error
		squatter, err = net.ListenUDP("udp4", &net.UDPAddr{Port: 51850})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = squatter.Close() }()
	_, err := wireguard.New(netnstest.Context(t), netnstest.Logger(t), a)
	if err == nil || !strings.Contains(err.Error(), "51850") {
		t.Fatalf("New on a taken port: %v", err)
	}
	if got := netnstest.Links(t, n.WA); len(got) != 0 {
		t.Errorf("left in the workload: %v", got)
	}
}

// TestWorkloadNamespaceDies: the forwarder's descriptor does not keep the
// workload's namespace alive; when it goes, the tunnel stops by itself.
func TestWorkloadNamespaceDies(t *testing.T) {
	netnstest.RequireRoot(t)
	n := netnstest.NewTwoNodes(t, "die", netip.MustParsePrefix("10.234.0.1/24"), netip.MustParsePrefix("10.234.0.2/24"))
	_, b := ends(t, n, 51860, 51861)
	tb := newTunnel(t, b)
	n.WB.Remove()
	select {
	case <-tb.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the tunnel kept running after its namespace died")
	}
	if listening(t, n.NodeB, 51861) {
		t.Error("the port is still bound")
	}
}

func TestConfigValidation(t *testing.T) {
	netnstest.RequireRoot(t) // a namespace is needed to get past the first check
	n := netnstest.NewTwoNodes(t, "val", netip.MustParsePrefix("10.235.0.1/24"), netip.MustParsePrefix("10.235.0.2/24"))
	good, _ := ends(t, n, 51870, 51871)
	for _, tc := range []struct {
		name   string
		change func(c *wireguard.Config)
	}{
		{"no mark", func(c *wireguard.Config) { c.Mark = kernel.Mark{} }},
		{"no namespace", func(c *wireguard.Config) { c.End.NS = nil }},
		{"bad name", func(c *wireguard.Config) { c.End.Name = "a/b" }},
		{"no private key", func(c *wireguard.Config) { c.PrivateKey = [32]byte{} }},
		{"no peer key", func(c *wireguard.Config) { c.Peer.PublicKey = [32]byte{} }},
		{"no port", func(c *wireguard.Config) { c.ListenPort = 0 }},
		{"unspecified peer address", func(c *wireguard.Config) { c.Peer.Endpoint = netip.AddrPortFrom(netip.IPv4Unspecified(), 1) }},
		{"peer port 0", func(c *wireguard.Config) { c.Peer.Endpoint = netip.AddrPortFrom(n.IPB, 0) }},
		{"mtu too small", func(c *wireguard.Config) { c.MTU = 60 }},
		{"negative keepalive", func(c *wireguard.Config) { c.Keepalive = -time.Second }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.change(&c)
			if _, err := wireguard.New(netnstest.Context(t), netnstest.Logger(t), c); err == nil {
				t.Fatal("accepted")
			}
			if got := netnstest.Links(t, n.WA); len(got) != 0 {
				t.Errorf("left: %v", got)
			}
		})
	}
}
