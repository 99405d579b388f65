// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package liveness

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	kernelmech "github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/kernel"
	"github.com/nsmesh/nsmesh/sdk/dataplane/kernel"
	"github.com/nsmesh/nsmesh/sdk/tools/log"
)

// DefaultResendInterval is the pause after which an unanswered echo request
// is sent again.
const DefaultResendInterval = 100 * time.Millisecond

// Option configures the kernel check.
type Option func(*options)

type options struct {
	netns  string
	resend time.Duration
	logger logrus.FieldLogger
}

// WithNetNS pings from the namespace ref (a path, file:// URL or name under
// /run/netns) instead of the one the mechanism names.
func WithNetNS(ref string) Option { return func(o *options) { o.netns = ref } }

// WithResendInterval sets the pause after which an unanswered echo request
// is sent again.
func WithResendInterval(d time.Duration) Option { return func(o *options) { o.resend = d } }

// WithLogger sets the logger for failed checks (debug level).
func WithLogger(l logrus.FieldLogger) Option { return func(o *options) { o.logger = l } }

func build(opts []Option) options {
	o := options{resend: DefaultResendInterval, logger: log.Discard()}
	for _, opt := range opts {
		opt(&o)
	}
	if o.resend <= 0 {
		o.resend = DefaultResendInterval
	}
	if o.logger == nil {
		o.logger = log.Discard()
	}
	return o
}

// NewKernelCheck returns a liveness check for heal.WithLivenessCheck: true
// when PingKernel succeeds within the check's context.
func NewKernelCheck(opts ...Option) func(ctx context.Context, conn *networkservice.Connection) bool {
	o := build(opts)
	return func(ctx context.Context, conn *networkservice.Connection) bool {
		if err := ping(ctx, conn, o); err != nil {
			o.logger.WithFields(logrus.Fields{"element": "liveness", "conn": conn.GetId()}).Debugf("data plane check failed: %v", err)
			return false
		}
		return true
	}
}

// PingKernel pings every destination address of conn over its KERNEL
// interface until each answered or ctx ends; the error says which address
// did not answer and why.
func PingKernel(ctx context.Context, conn *networkservice.Connection, opts ...Option) error {
	return ping(ctx, conn, build(opts))
}

func ping(ctx context.Context, conn *networkservice.Connection, o options) error {
	k := kernelmech.ToMechanism(conn.GetMechanism())
	if k == nil {
		return nil
	}
	ipc := conn.GetContext().GetIpContext()
	dsts, err := addrs(ipc.GetDstIpAddrs())
	if err != nil || len(dsts) == 0 {
		return err
	}
	srcs, err := addrs(ipc.GetSrcIpAddrs())
	if err != nil {
		return err
	}
	ns, err := o.open(k)
	if err != nil {
		return err
	}
	if ns != nil {
		defer func() { _ = ns.Close() }()
	}
	for _, dst := range dsts {
		var src netip.Addr
		for _, s := range srcs {
			if s.Is4() == dst.Is4() {
				src = s
				break
			}
		}
		if err := echo(ctx, ns, k.GetInterfaceName(), src, dst, o.resend); err != nil {
			return fmt.Errorf("liveness: ping %s from %s: %w", dst, ns, err)
		}
	}
	return nil
}

// addrs parses the address part of CIDR or plain addresses.
func addrs(in []string) ([]netip.Addr, error) {
	out := make([]netip.Addr, 0, len(in))
	for _, s := range in {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Addr().Unmap())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("liveness: address %q: want an IP or CIDR", s)
		}
		out = append(out, a.Unmap())
	}
	return out, nil
}

// open returns the namespace to ping from; nil means the caller's own.
func (o *options) open(k *kernelmech.Mechanism) (*kernel.NetNS, error) {
	ref := o.netns
	if ref == "" {
		p, err := k.NetNSPath()
		switch {
		case err != nil:
			// An inode:// URL names a namespace only fd passing can open: the
			// client's own, since the client is who asks.
			return nil, nil
		case p == "/proc/thread-self/ns/net" || p == "/proc/self/ns/net":
			return nil, nil
		}
		ref = p
	}
	ns, err := kernel.OpenNetNS(ref)
	if err != nil {
		return nil, fmt.Errorf("liveness: %w", err)
	}
	return ns, nil
}

// family holds what differs between ICMP for IPv4 and IPv6.
type family struct {
	proto             int
	request, reply    icmp.Type
	raw, unprivileged string
	any               string
}

var (
	fam4 = family{proto: 1, request: ipv4.ICMPTypeEcho, reply: ipv4.ICMPTypeEchoReply, raw: "ip4:icmp", unprivileged: "udp4", any: "0.0.0.0"}
	fam6 = family{proto: 58, request: ipv6.ICMPTypeEchoRequest, reply: ipv6.ICMPTypeEchoReply, raw: "ip6:ipv6-icmp", unprivileged: "udp6", any: "::"}
)

// socket is an ICMP socket opened in the namespace to ping from.
type socket struct {
	net.PacketConn
	raw bool // a raw socket sees every ICMP packet and keeps our echo ID
}

// listen opens the socket inside ns (nil: here) from src, bound to ifname.
func listen(ns *kernel.NetNS, f family, ifname string, src netip.Addr) (*socket, error) {
	var s *socket
	open := func() error {
		if ifname != "" {
			if _, err := net.InterfaceByName(ifname); err != nil {
				return fmt.Errorf("interface %s: %w", ifname, err)
			}
		}
		laddr := f.any
		if src.IsValid() {
			laddr = src.String()
		}
		lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
			if ifname == "" {
				return nil
			}
			var serr error
			if err := c.Control(func(fd uintptr) {
				serr = unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, ifname)
			}); err != nil {
				return err
			}
			return serr
		}}
		pc, err := lc.ListenPacket(context.Background(), f.raw, laddr)
		if err == nil {
			s = &socket{PacketConn: pc, raw: true}
			return nil
		}
		if !errors.Is(err, unix.EPERM) && !errors.Is(err, unix.EACCES) {
			return err
		}
		// No CAP_NET_RAW: the unprivileged ICMP socket, if the host allows it.
		up, uerr := icmp.ListenPacket(f.unprivileged, laddr)
		if uerr != nil {
			return errors.Join(err, uerr)
		}
		s = &socket{PacketConn: up}
		return nil
	}
	var err error
	if ns == nil {
		err = open()
	} else {
		err = ns.Do(open)
	}
	return s, err
}

// echo pings dst until it answers or ctx ends.
func echo(ctx context.Context, ns *kernel.NetNS, ifname string, src, dst netip.Addr, resend time.Duration) error {
	f := fam4
	if dst.Is6() {
		f = fam6
	}
	s, err := listen(ns, f, ifname, src)
	if err != nil {
		return err
	}
	defer func() { _ = s.Close() }()
	// Wake a blocked read when ctx ends.
	stop := context.AfterFunc(ctx, func() { _ = s.SetReadDeadline(time.Now()) })
	defer stop()

	var to net.Addr = &net.IPAddr{IP: dst.AsSlice(), Zone: dst.Zone()}
	if !s.raw {
		to = &net.UDPAddr{IP: dst.AsSlice(), Zone: dst.Zone()}
	}
	id := rand.IntN(1 << 16) //nolint:gosec // an echo identifier, not a secret
	// A token no other pinger can guess keeps stray replies from counting.
	token := make([]byte, 16)
	_, _ = crand.Read(token)
	buf := make([]byte, 1500)
	for seq := 1; ; seq = seq%0xffff + 1 {
		if err := ctx.Err(); err != nil {
			return err
		}
		msg := icmp.Message{Type: f.request, Body: &icmp.Echo{ID: id, Seq: seq, Data: token}}
		b, err := msg.Marshal(nil)
		if err != nil {
			return err
		}
		if _, err := s.WriteTo(b, to); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		next := time.Now().Add(resend)
		if dl, ok := ctx.Deadline(); ok && dl.Before(next) {
			next = dl
		}
		if err := s.SetReadDeadline(next); err != nil {
			return err
		}
		for {
			n, from, err := s.ReadFrom(buf)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					break // unanswered: send again
				}
				return err
			}
			if s.raw && !sameIP(from, dst) {
				continue
			}
			m, err := icmp.ParseMessage(f.proto, buf[:n])
			if err != nil || m.Type != f.reply {
				continue
			}
			e, ok := m.Body.(*icmp.Echo)
			// A late reply to an earlier request proves the path as well.
			if !ok || !bytes.Equal(e.Data, token) || s.raw && e.ID != id {
				continue
			}
			return nil
		}
	}
}

// sameIP reports whether a is the address ip.
func sameIP(a net.Addr, ip netip.Addr) bool {
	var got net.IP
	switch v := a.(type) {
	case *net.IPAddr:
		got = v.IP
	case *net.UDPAddr:
		got = v.IP
	default:
		return strings.HasPrefix(a.String(), ip.String())
	}
	g, ok := netip.AddrFromSlice(got)
	return ok && g.Unmap() == ip.WithZone("")
}
