// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package kernelxc_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// capture records every frame on one interface with an AF_PACKET socket
// opened in the interface's namespace (what tcpdump would see).
type capture struct {
	fd     int
	mu     sync.Mutex
	frames [][]byte
	stop   chan struct{}
	done   chan struct{}
}

func startCapture(t *testing.T, ns testNS, ifName string) *capture {
	t.Helper()
	idx := link(t, ns, ifName).Attrs().Index
	proto := int(htons(unix.ETH_P_ALL))
	c := &capture{fd: -1, stop: make(chan struct{}), done: make(chan struct{})}
	if err := ns.Do(func() error {
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
		if err != nil {
			return err
		}
		c.fd = fd
		return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: idx})
	}); err != nil {
		if c.fd >= 0 {
			_ = unix.Close(c.fd)
		}
		t.Fatalf("capture on %s: %v", ifName, err)
	}
	// Room for a burst of GSO super-packets while the reader is slow (-race).
	if err := unix.SetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 32<<20); err != nil {
		t.Fatal(err)
	}
	tv := unix.NsecToTimeval(int64(50 * time.Millisecond))
	if err := unix.SetsockoptTimeval(c.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}
	go c.run()
	t.Cleanup(func() { c.finish() })
	return c
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func (c *capture) run() {
	defer close(c.done)
	buf := make([]byte, 1<<18) // GSO super-packets are larger than the MTU
	for {
		select {
		case <-c.stop:
			return
		default:
		}
		n, _, err := unix.Recvfrom(c.fd, buf, 0)
		if err != nil || n <= 0 {
			continue
		}
		c.mu.Lock()
		if len(c.frames) < 100000 {
			c.frames = append(c.frames, bytes.Clone(buf[:n]))
		}
		c.mu.Unlock()
	}
}

// finish stops the capture and returns what it saw.
func (c *capture) finish() [][]byte {
	select {
	case <-c.stop:
	default:
		close(c.stop)
		<-c.done
		_ = unix.Close(c.fd)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.frames
}

// packet is the outer IP header of a captured frame.
type packet struct {
	src, dst     netip.Addr
	proto        uint8
	sport, dport uint16
	icmpType     uint8
	ip           bool
}

func (p packet) String() string {
	if p.proto == unix.IPPROTO_ICMP || p.proto == unix.IPPROTO_ICMPV6 {
		return fmt.Sprintf("%s -> %s proto %d type %d", p.src, p.dst, p.proto, p.icmpType)
	}
	return fmt.Sprintf("%s -> %s proto %d ports %d->%d", p.src, p.dst, p.proto, p.sport, p.dport)
}

// parse reads the Ethernet and outer IP headers (not IPv6 extension headers
// other than hop-by-hop, which MLD uses).
func parse(frame []byte) packet {
	if len(frame) < 14 {
		return packet{}
	}
	eth, l3 := binary.BigEndian.Uint16(frame[12:14]), frame[14:]
	var p packet
	var l4 []byte
	switch {
	case eth == unix.ETH_P_IP && len(l3) >= 20:
		ihl := int(l3[0]&0x0f) * 4
		p = packet{ip: true, proto: l3[9], src: netip.AddrFrom4([4]byte(l3[12:16])), dst: netip.AddrFrom4([4]byte(l3[16:20]))}
		if len(l3) >= ihl {
			l4 = l3[ihl:]
		}
	case eth == unix.ETH_P_IPV6 && len(l3) >= 40:
		p = packet{ip: true, proto: l3[6], src: netip.AddrFrom16([16]byte(l3[8:24])), dst: netip.AddrFrom16([16]byte(l3[24:40]))}
		l4 = l3[40:]
		if p.proto == 0 && len(l4) >= 8 { // hop-by-hop options
			p.proto = l4[0]
			l4 = l4[(int(l4[1])+1)*8:]
		}
	default:
		return packet{}
	}
	switch {
	case (p.proto == unix.IPPROTO_UDP || p.proto == unix.IPPROTO_TCP) && len(l4) >= 4:
		p.sport, p.dport = binary.BigEndian.Uint16(l4[0:2]), binary.BigEndian.Uint16(l4[2:4])
	case (p.proto == unix.IPPROTO_ICMP || p.proto == unix.IPPROTO_ICMPV6) && len(l4) >= 1:
		p.icmpType = l4[0]
	}
	return p
}

// underlayVerdict checks what crossed the underlay while a WireGuard tunnel
// between a and b (ports) carried the workloads' traffic: every IP packet
// between the tunnel addresses is UDP between the WireGuard ports, except
// IPv6 neighbour discovery; no packet carries a workload address outside;
// the marker the workloads exchanged never appears in clear. It returns the
// number of WireGuard datagrams seen.
func underlayVerdict(t *testing.T, frames [][]byte, a, b netip.Addr, ports map[uint16]bool, inner []netip.Addr, marker []byte) int {
	t.Helper()
	isInner := func(x netip.Addr) bool {
		for _, i := range inner {
			if x == i {
				return true
			}
		}
		return false
	}
	wg, bad := 0, 0
	for _, f := range frames {
		if bytes.Contains(f, marker) {
			bad++
			t.Errorf("the workloads' data crossed the underlay in clear: %s", parse(f))
			continue
		}
		p := parse(f)
		if !p.ip {
			continue // ARP
		}
		if isInner(p.src) || isInner(p.dst) {
			bad++
			t.Errorf("inner packet on the underlay: %s", p)
			continue
		}
		between := (p.src == a && p.dst == b) || (p.src == b && p.dst == a)
		switch {
		case between && p.proto == unix.IPPROTO_UDP && ports[p.sport] && ports[p.dport]:
			wg++
		case p.proto == unix.IPPROTO_ICMPV6 && p.icmpType >= 133 && p.icmpType <= 137:
			// neighbour discovery of the underlay itself
		case p.proto == unix.IPPROTO_ICMPV6 && (p.icmpType == 143 || p.icmpType == 130 || p.icmpType == 131):
			// MLD of the underlay
		default:
			bad++
			t.Errorf("unexpected packet on the underlay: %s", p)
		}
		if bad > 10 {
			t.Fatal("too many unexpected packets")
		}
	}
	return wg
}
