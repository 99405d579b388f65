// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package netnstest

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/nsmesh/nsmesh/sdk/dataplane/kernel"
)

// Ping sends up to attempts ICMP echo requests, one a second, from src
// (inside ns) to dst and returns nil at the first matching reply.
func Ping(ns *kernel.NetNS, src, dst netip.Addr, attempts int) error {
	network, proto := "ip4:icmp", 1
	var reqType, replyType icmp.Type = ipv4.ICMPTypeEcho, ipv4.ICMPTypeEchoReply
	if dst.Is6() {
		network, proto = "ip6:ipv6-icmp", 58
		reqType, replyType = ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply
	}
	var conn *icmp.PacketConn
	if err := ns.Do(func() error {
		c, err := icmp.ListenPacket(network, src.String())
		conn = c
		return err
	}); err != nil {
		return fmt.Errorf("listen icmp in %s: %w", ns, err)
	}
	defer func() { _ = conn.Close() }()
	id := os.Getpid() & 0xffff
	payload := make([]byte, 32)
	_, _ = rand.Read(payload)
	buf := make([]byte, 1500)
	for seq := 1; seq <= attempts; seq++ {
		msg := icmp.Message{Type: reqType, Body: &icmp.Echo{ID: id, Seq: seq, Data: payload}}
		wire, err := msg.Marshal(nil)
		if err != nil {
			return err
		}
		if _, err := conn.WriteTo(wire, &net.IPAddr{IP: dst.AsSlice()}); err != nil {
			return fmt.Errorf("send echo %s -> %s: %w", src, dst, err)
		}
		deadline := time.Now().Add(time.Second)
		_ = conn.SetReadDeadline(deadline)
		for time.Now().Before(deadline) {
			n, peer, err := conn.ReadFrom(buf)
			if err != nil {
				break
			}
			reply, err := icmp.ParseMessage(proto, buf[:n])
			if err != nil || reply.Type != replyType {
				continue
			}
			echo, ok := reply.Body.(*icmp.Echo)
			pa, _ := netip.ParseAddr(peer.String())
			if ok && echo.Seq == seq && bytes.Equal(echo.Data, payload) && pa == dst {
				return nil
			}
		}
	}
	return fmt.Errorf("no echo reply from %s to %s in %s", dst, src, ns)
}

// TCPEcho connects from src (inside client) to a listener on dst (inside
// server), sends data, and checks that the server received it intact and
// that it came back unchanged. Every read and write has 20 seconds.
func TCPEcho(client *kernel.NetNS, src netip.Addr, server *kernel.NetNS, dst netip.Addr, data []byte) error {
	var ln net.Listener
	if err := server.Do(func() error {
		var err error
		ln, err = net.Listen("tcp", netip.AddrPortFrom(dst, 0).String())
		return err
	}); err != nil {
		return fmt.Errorf("listen on %s in %s: %w", dst, server, err)
	}
	defer func() { _ = ln.Close() }()
	echoed := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			echoed <- err
			return
		}
		defer func() { _ = c.Close() }()
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		buf := make([]byte, len(data))
		if _, err := io.ReadFull(c, buf); err != nil {
			echoed <- fmt.Errorf("server read: %w", err)
			return
		}
		if !bytes.Equal(buf, data) {
			echoed <- fmt.Errorf("the server received other data than was sent (%d bytes)", len(data))
			return
		}
		_, err = c.Write(buf)
		echoed <- err
	}()
	var conn net.Conn
	if err := client.Do(func() error {
		d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0)), Timeout: 10 * time.Second}
		var err error
		conn, err = d.Dial("tcp", ln.Addr().String())
		return err
	}); err != nil {
		_ = ln.Close()
		<-echoed
		return fmt.Errorf("tcp %s -> %s: %w", src, dst, err)
	}
	defer func() { _ = conn.Close() }()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := conn.Write(data); err != nil {
		return fmt.Errorf("tcp %s -> %s: send: %w", src, dst, err)
	}
	back := make([]byte, len(data))
	_, rerr := io.ReadFull(conn, back)
	if err := <-echoed; err != nil {
		return fmt.Errorf("tcp %s -> %s: %w", src, dst, err)
	}
	if rerr != nil {
		return fmt.Errorf("tcp %s -> %s: echo: %w", src, dst, rerr)
	}
	if !bytes.Equal(back, data) {
		return fmt.Errorf("tcp %s -> %s: the echo differs from the data sent (%d bytes)", src, dst, len(data))
	}
	return nil
}
