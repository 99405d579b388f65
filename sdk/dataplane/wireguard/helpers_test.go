// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package wireguard_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	apiwg "github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/wireguard"
	"github.com/nsmesh/nsmesh/sdk/dataplane/kernel"
	"github.com/nsmesh/nsmesh/sdk/dataplane/wireguard"
	"github.com/nsmesh/nsmesh/sdk/internal/netnstest"
	mechwg "github.com/nsmesh/nsmesh/sdk/networkservice/mechanisms/wireguard"
)

// keys returns a fresh key pair.
func keys(t testing.TB) (private, public apiwg.Key) {
	t.Helper()
	private, public, err := mechwg.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return private, public
}

// ends returns the configurations of both ends of one connection.
func ends(t testing.TB, n netnstest.TwoNodes, portA, portB uint16) (a, b wireguard.Config) {
	t.Helper()
	privA, pubA := keys(t)
	privB, pubB := keys(t)
	mtu := wireguard.MTUFor(1500, n.IPB)
	a = wireguard.Config{
		Mark: kernel.Mark{Owner: "wg-" + netnstest.RunID + "-a", ConnID: "conn"}, Host: n.NodeA.NetNS,
		End: kernel.Endpoint{NS: n.WA.NetNS, Name: "nsm-wg"}, PrivateKey: privA, ListenPort: portA,
		Peer: wireguard.Peer{PublicKey: pubB, Endpoint: netip.AddrPortFrom(n.IPB, portB)}, MTU: mtu, Keepalive: 25 * time.Second,
	}
	b = wireguard.Config{
		Mark: kernel.Mark{Owner: "wg-" + netnstest.RunID + "-b", ConnID: "conn"}, Host: n.NodeB.NetNS,
		End: kernel.Endpoint{NS: n.WB.NetNS, Name: "icmp-wg"}, PrivateKey: privB, ListenPort: portB,
		Peer: wireguard.Peer{PublicKey: pubA}, MTU: mtu, // learns A's endpoint
	}
	return a, b
}

func newTunnel(t testing.TB, cfg wireguard.Config) *wireguard.Tunnel {
	t.Helper()
	tn, err := wireguard.New(netnstest.Context(t), netnstest.Logger(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tn.Close)
	return tn
}

var (
	addrA = netip.MustParseAddr("172.16.7.1")
	addrB = netip.MustParseAddr("172.16.7.0")
)

// configure addresses both interfaces point to point.
func configure(t testing.TB, a, b wireguard.Config) {
	t.Helper()
	cc := &networkservice.ConnectionContext{IpContext: &networkservice.IPContext{
		SrcIpAddrs: []string{addrA.String() + "/32"}, DstIpAddrs: []string{addrB.String() + "/32"},
	}}
	if err := kernel.Configure(netnstest.Context(t), netnstest.Logger(t), a.End.NS, a.End.Name, kernel.SideSrc, cc); err != nil {
		t.Fatal(err)
	}
	if err := kernel.Configure(netnstest.Context(t), netnstest.Logger(t), b.End.NS, b.End.Name, kernel.SideDst, cc); err != nil {
		t.Fatal(err)
	}
}

// exchange sends a UDP datagram from addrA in a to addrB in b and back.
func exchange(a, b *netnstest.NS) error {
	var srv, cli *net.UDPConn
	if err := b.Do(func() error {
		var err error
		srv, err = net.ListenUDP("udp", &net.UDPAddr{IP: addrB.AsSlice()})
		return err
	}); err != nil {
		return err
	}
	defer func() { _ = srv.Close() }()
	if err := a.Do(func() error {
		var err error
		cli, err = net.DialUDP("udp", &net.UDPAddr{IP: addrA.AsSlice()}, srv.LocalAddr().(*net.UDPAddr))
		return err
	}); err != nil {
		return err
	}
	defer func() { _ = cli.Close() }()
	msg := make([]byte, 64)
	_, _ = rand.Read(msg)
	buf := make([]byte, 256)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := cli.Write(msg); err != nil {
			return err
		}
		_ = srv.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		n, from, err := srv.ReadFromUDP(buf)
		if err != nil {
			continue // the first packets wait for the handshake
		}
		if !bytes.Equal(buf[:n], msg) {
			return errors.New("datagram changed on the way")
		}
		if _, err := srv.WriteToUDP(buf[:n], from); err != nil {
			return err
		}
		_ = cli.SetReadDeadline(time.Now().Add(2 * time.Second))
		if n, err = cli.Read(buf); err != nil || !bytes.Equal(buf[:n], msg) {
			return fmt.Errorf("no answer: %v", err)
		}
		return nil
	}
	return errors.New("no datagram crossed the tunnel")
}
