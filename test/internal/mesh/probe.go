// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package mesh

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// Ping sends ICMP echo requests from namespace from to dst, one every
// 100ms, until count replies from dst have come back or ctx ends. It uses a
// raw socket, so it needs no ping binary.
func Ping(ctx context.Context, from *NetNS, dst net.IP, count int) error {
	network, listen, proto := "ip4:icmp", "0.0.0.0", 1
	var reqType, replyType icmp.Type = ipv4.ICMPTypeEcho, ipv4.ICMPTypeEchoReply
	if dst.To4() == nil {
		network, listen, proto = "ip6:ipv6-icmp", "::", 58
		reqType, replyType = ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply
	}
	var conn *icmp.PacketConn
	if err := from.Do(func() (err error) {
		conn, err = icmp.ListenPacket(network, listen)
		return err
	}); err != nil {
		return fmt.Errorf("mesh: ping %s from %s: %w", dst, from.Name, err)
	}
	defer conn.Close()
	n, _ := rand.Int(rand.Reader, big.NewInt(1<<16))
	id := int(n.Int64())
	replies := make(chan int, 64)
	go func() {
		buf := make([]byte, 1500)
		for {
			_ = conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			n, peer, err := conn.ReadFrom(buf)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				if ctx.Err() != nil {
					close(replies)
					return
				}
				continue
			}
			if err != nil {
				close(replies)
				return
			}
			msg, err := icmp.ParseMessage(proto, buf[:n])
			if err != nil || msg.Type != replyType {
				continue
			}
			echo, ok := msg.Body.(*icmp.Echo)
			if !ok || echo.ID != id || !peerIP(peer).Equal(dst) {
				continue
			}
			select {
			case replies <- echo.Seq:
			default:
			}
		}
	}()
	got := map[int]bool{}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	for seq := 1; ; seq++ {
		req := icmp.Message{Type: reqType, Body: &icmp.Echo{ID: id, Seq: seq, Data: []byte("nsmesh e2e")}}
		b, err := req.Marshal(nil)
		if err != nil {
			return fmt.Errorf("mesh: ping: %w", err)
		}
		if _, err := conn.WriteTo(b, &net.IPAddr{IP: dst}); err != nil {
			lastErr = err
		}
	wait:
		for {
			select {
			case s, ok := <-replies:
				if !ok {
					return fmt.Errorf("mesh: ping %s from %s: %d of %d replies (last send error: %v): %w", dst, from.Name, len(got), count, lastErr, context.Cause(ctx))
				}
				got[s] = true
				if len(got) >= count {
					conn.Close()
					for range replies { //nolint:revive // drain until the reader ends
					}
					return nil
				}
			case <-tick.C:
				break wait
			}
		}
	}
}

func peerIP(a net.Addr) net.IP {
	if ip, ok := a.(*net.IPAddr); ok {
		return ip.IP
	}
	return nil
}

// TCPEcho sends size random bytes over TCP from namespace client to an echo
// server it opens at serverIP in namespace server, reads them back and
// compares. It returns how long the transfer took.
func TCPEcho(ctx context.Context, server *NetNS, serverIP net.IP, client *NetNS, size int) (time.Duration, error) {
	var l net.Listener
	if err := server.Do(func() (err error) {
		l, err = net.Listen("tcp", net.JoinHostPort(serverIP.String(), "0"))
		return err
	}); err != nil {
		return 0, fmt.Errorf("mesh: echo server in %s: %w", server.Name, err)
	}
	defer l.Close()
	served := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			served <- err
			return
		}
		defer c.Close()
		_, err = io.Copy(c, c)
		served <- err
	}()
	var c net.Conn
	if err := client.Do(func() (err error) {
		var d net.Dialer
		c, err = d.DialContext(ctx, "tcp", l.Addr().String())
		return err
	}); err != nil {
		_ = l.Close()
		<-served
		return 0, fmt.Errorf("mesh: dial %s from %s: %w", l.Addr(), client.Name, err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	data := make([]byte, size)
	_, _ = rand.Read(data)
	start := time.Now()
	wrote := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		if err == nil {
			err = c.(*net.TCPConn).CloseWrite()
		}
		wrote <- err
	}()
	back, rerr := io.ReadAll(c)
	took := time.Since(start)
	_ = c.Close()
	werr := <-wrote
	serr := <-served
	if err := errors.Join(rerr, werr, serr); err != nil {
		return took, fmt.Errorf("mesh: echo %s from %s: %w", l.Addr(), client.Name, err)
	}
	if !bytes.Equal(back, data) {
		return took, fmt.Errorf("mesh: echo %s from %s: sent %d bytes, got %d different ones back", l.Addr(), client.Name, len(data), len(back))
	}
	return took, nil
}

// WaitLink waits until namespace ns has a link for which match returns nil,
// and returns it.
func WaitLink(ctx context.Context, ns *NetNS, match func(Link) error) (Link, error) {
	var found Link
	err := Poll(ctx, 20*time.Millisecond, func() error {
		links, err := ns.Links()
		if err != nil {
			return err
		}
		var errs []error
		for _, l := range links {
			if l.Name == "lo" {
				continue
			}
			if err := match(l); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", l.Name, err))
				continue
			}
			found = l
			return nil
		}
		if len(errs) == 0 {
			return fmt.Errorf("mesh: no interface but lo in %s", ns.Name)
		}
		return fmt.Errorf("mesh: no matching interface in %s: %w", ns.Name, errors.Join(errs...))
	})
	return found, err
}

// AddrIn returns the link's address inside prefix, or nil.
func (l Link) AddrIn(prefix *net.IPNet) net.IP {
	for _, a := range l.Addrs {
		if prefix.Contains(a.IP) {
			return a.IP
		}
	}
	return nil
}

// WaitTCP waits until something in namespace ns accepts TCP connections on
// addr.
func WaitTCP(ctx context.Context, ns *NetNS, addr string) error {
	return Poll(ctx, 20*time.Millisecond, func() error {
		return ns.Do(func() error {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err != nil {
				return fmt.Errorf("mesh: %s in %s: %w", addr, ns.Name, err)
			}
			return c.Close()
		})
	})
}
