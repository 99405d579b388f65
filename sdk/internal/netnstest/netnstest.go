// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package netnstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/nsmesh/nsmesh/sdk/dataplane/kernel"
)

// RunID tells this test binary's names from those of any other run on the
// machine: the pid and three random bytes.
var RunID = func() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%d%s", os.Getpid()%10000, hex.EncodeToString(b))
}()

// RequireRoot skips the test unless it runs as root.
func RequireRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN, CAP_NET_RAW) to create network namespaces, links and raw sockets")
	}
}

// Logger discards its output unless the test runs with -v.
func Logger(tb testing.TB) logrus.FieldLogger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	if testing.Verbose() {
		l.SetOutput(os.Stderr)
		l.SetLevel(logrus.DebugLevel)
	}
	return l.WithField("test", tb.Name())
}

// Context ends after 30 seconds or with the test.
func Context(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// NS is a named namespace created by New.
type NS struct {
	*kernel.NetNS
	// Name is the namespace's name under /run/netns.
	Name string

	tb   testing.TB
	once sync.Once
}

// Path is the namespace file, /run/netns/<name>.
func (n *NS) Path() string { return "/run/netns/" + n.Name }

// Remove closes and deletes the namespace before the test ends; it is safe
// to call more than once. Handles from Handle keep a namespace alive until
// the test's cleanup closes them.
func (n *NS) Remove() {
	n.once.Do(func() {
		_ = n.NetNS.Close()
		if err := netns.DeleteNamed(n.Name); err != nil {
			n.tb.Errorf("delete netns %s: %v", n.Name, err)
		}
	})
}

// New creates the namespace nst-<RunID>-<tag>, with lo down as the kernel
// makes it, and deletes it when the test ends.
func New(tb testing.TB, tag string) *NS {
	tb.Helper()
	name := fmt.Sprintf("nst-%s-%s", RunID, tag)
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer func() { _ = orig.Close() }()
		h, err := netns.NewNamed(name)
		if err == nil {
			_ = h.Close()
		}
		if serr := netns.Set(orig); serr != nil {
			errc <- errors.Join(err, serr) // the thread stays locked and dies with the goroutine
			return
		}
		runtime.UnlockOSThread()
		errc <- err
	}()
	if err := <-errc; err != nil {
		_ = netns.DeleteNamed(name)
		tb.Fatalf("create netns %s: %v", name, err)
	}
	ns, err := kernel.OpenNetNS(name)
	if err != nil {
		_ = netns.DeleteNamed(name)
		tb.Fatalf("open netns %s: %v", name, err)
	}
	n := &NS{NetNS: ns, Name: name, tb: tb}
	tb.Cleanup(n.Remove)
	return n
}

// NewUp is New with lo up, so that local sockets behave normally.
func NewUp(tb testing.TB, tag string) *NS {
	tb.Helper()
	n := New(tb, tag)
	LoUp(tb, n.NetNS)
	return n
}

// LoUp brings up lo in ns. Its netlink socket is closed at once, so it does
// not keep the namespace alive after NS.Remove.
func LoUp(tb testing.TB, ns *kernel.NetNS) {
	tb.Helper()
	h, err := netlink.NewHandleAt(netns.NsHandle(ns.Fd()))
	if err != nil {
		tb.Fatalf("netlink handle in %s: %v", ns, err)
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err == nil {
		err = h.LinkSetUp(lo)
	}
	if err != nil {
		tb.Fatalf("lo up in %s: %v", ns, err)
	}
}

// Handle is a netlink handle in ns, closed when the test ends.
func Handle(tb testing.TB, ns *kernel.NetNS) *netlink.Handle {
	tb.Helper()
	h, err := netlink.NewHandleAt(netns.NsHandle(ns.Fd()))
	if err != nil {
		tb.Fatalf("netlink handle in %s: %v", ns, err)
	}
	tb.Cleanup(h.Close)
	return h
}

// End is one end of a veth pair: its namespace, name and address.
type End struct {
	NS   *kernel.NetNS
	Name string
	Addr netip.Prefix
}

// Veth joins a and b with a veth pair of MTU 1500 and gives each end its
// address (IPv6 without duplicate address detection) and brings it up, as
// kernel.InterfaceConfig.Apply does.
func Veth(tb testing.TB, a, b End) {
	tb.Helper()
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: a.Name, MTU: 1500}, PeerName: b.Name,
		PeerNamespace: netlink.NsFd(b.NS.Fd())}
	if err := Handle(tb, a.NS).LinkAdd(veth); err != nil {
		tb.Fatalf("veth %s (%s) - %s (%s): %v", a.Name, a.NS, b.Name, b.NS, err)
	}
	for _, e := range []End{a, b} {
		if err := (kernel.InterfaceConfig{Addrs: []netip.Prefix{e.Addr}}).Apply(Context(tb), Logger(tb), e.NS, e.Name); err != nil {
			tb.Fatalf("address %s on %s in %s: %v", e.Addr, e.Name, e.NS, err)
		}
	}
}
