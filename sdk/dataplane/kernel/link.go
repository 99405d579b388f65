// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package kernel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// MaxIfNameLen is the longest Linux interface name (IFNAMSIZ-1).
const MaxIfNameLen = 15

// Endpoint is one interface of a connection: a name inside a namespace.
type Endpoint struct {
	NS   *NetNS
	Name string
}

func (e Endpoint) String() string { return fmt.Sprintf("%s/%s", e.NS, e.Name) }

// LinkInfo describes a link as it exists after Ensure.
type LinkInfo struct {
	Name  string
	Index int
	MAC   net.HardwareAddr
	MTU   int
}

// Owned is a link found by List: one that carries a Mark.
type Owned struct {
	Name  string
	Index int
	// Kind is the link type as the kernel reports it: "veth", "vxlan", ...
	Kind string
	Mark Mark
}

// ValidateIfName checks a Linux interface name: 1 to 15 bytes, no '/', ':'
// or whitespace, not "." or "..".
func ValidateIfName(name string) error {
	switch {
	case name == "":
		return errors.New("kernel: empty interface name")
	case len(name) > MaxIfNameLen:
		return fmt.Errorf("kernel: interface name %q is longer than %d bytes", name, MaxIfNameLen)
	case name == "." || name == "..":
		return fmt.Errorf("kernel: interface name %q is reserved", name)
	case strings.ContainsAny(name, "/: \t\n\r\v\f"):
		return fmt.Errorf("kernel: interface name %q contains '/', ':' or whitespace", name)
	}
	return nil
}

// List returns the links in ns that carry a Mark. An empty owner matches
// every owner.
func List(ns *NetNS, owner string) ([]Owned, error) {
	h, err := ns.handle()
	if err != nil {
		return nil, err
	}
	defer h.Close()
	return listOwned(h, ns, owner)
}

func listOwned(h *netlink.Handle, ns *NetNS, owner string) ([]Owned, error) {
	links, err := retryDump(h.LinkList)
	if err != nil {
		return nil, fmt.Errorf("kernel: list links in %s: %w", ns, err)
	}
	var out []Owned
	for _, l := range links {
		m, ok := ParseMark(l.Attrs().Alias)
		if !ok || (owner != "" && m.Owner != owner) {
			continue
		}
		out = append(out, Owned{Name: l.Attrs().Name, Index: l.Attrs().Index, Kind: l.Type(), Mark: m})
	}
	return out, nil
}

// DeleteByMark deletes every link in ns that carries m and returns how many
// it deleted. Deleting one end of a veth pair removes the other end too,
// wherever it lives.
func DeleteByMark(ctx context.Context, log logrus.FieldLogger, ns *NetNS, m Mark) (int, error) {
	return Prune(ctx, log, ns, m.Owner, func(o Mark) bool { return o != m })
}

// Prune deletes the links in ns owned by owner for which keep returns false,
// and returns how many it deleted. A restarted forwarder calls it with the
// set of connections it adopts. Links of other owners are never touched.
func Prune(ctx context.Context, log logrus.FieldLogger, ns *NetNS, owner string, keep func(Mark) bool) (int, error) {
	if owner == "" {
		return 0, errors.New("kernel: prune: empty owner")
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("kernel: prune in %s: %w", ns, err)
	}
	log = logger(log)
	h, err := ns.handle()
	if err != nil {
		return 0, err
	}
	defer h.Close()
	owned, err := listOwned(h, ns, owner)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, o := range owned {
		if keep(o.Mark) {
			continue
		}
		start := time.Now()
		err := h.LinkDel(&netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: o.Index}})
		if isNotFound(err) {
			continue // the peer of a veth deleted just before
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("kernel: delete %s %s in %s: %w", o.Kind, o.Name, ns, err))
			continue
		}
		n++
		log.WithFields(logrus.Fields{"conn": o.Mark.ConnID, "netns": ns.String(), "if": o.Name,
			"kind": o.Kind, "duration": time.Since(start)}).Info("kernel: deleted link")
	}
	return n, errors.Join(errs...)
}

// lookup returns the link called name, or nil if there is none.
func lookup(h *netlink.Handle, name string) (netlink.Link, error) {
	l, err := h.LinkByName(name)
	if isNotFound(err) {
		return nil, nil
	}
	return l, err
}

func isNotFound(err error) bool {
	if err == nil {
		return false
	}
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf) || errors.Is(err, unix.ENODEV)
}

// retryDump repeats a netlink dump that the kernel interrupted because the
// table changed underneath it (NLM_F_DUMP_INTR), which happens whenever
// other connections are programmed concurrently in the same namespace.
func retryDump[T any](f func() (T, error)) (T, error) {
	return retryDumpWith(f, dumpAttempts, dumpPause)
}

// A dump is interrupted whenever the namespace changes while it runs, which
// under load (many connections created and deleted at once) happens again
// and again if retried at once. Backing off lets the burst pass: up to about
// 1.5 s in all before giving up.
const (
	dumpAttempts = 30
	dumpPause    = time.Millisecond
)

func retryDumpWith[T any](f func() (T, error), attempts int, pause time.Duration) (T, error) {
	var (
		v   T
		err error
	)
	for i := range attempts {
		v, err = f()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return v, err
		}
		if i < attempts-1 {
			time.Sleep(pause + time.Duration(rand.Int64N(int64(pause)+1)))
			pause = min(2*pause, 100*time.Millisecond)
		}
	}
	return v, err
}

func info(l netlink.Link) LinkInfo {
	a := l.Attrs()
	return LinkInfo{Name: a.Name, Index: a.Index, MAC: a.HardwareAddr, MTU: a.MTU}
}

// refresh brings l to the wanted MTU (when non-zero), alias and up state,
// touching only what differs, and returns the link as it is now.
func refresh(h *netlink.Handle, l netlink.Link, mtu int, alias string) (netlink.Link, error) {
	a := l.Attrs()
	if mtu > 0 && a.MTU != mtu {
		if err := h.LinkSetMTU(l, mtu); err != nil {
			return nil, fmt.Errorf("set mtu %d on %s: %w", mtu, a.Name, err)
		}
	}
	if alias != "" && a.Alias != alias {
		if err := h.LinkSetAlias(l, alias); err != nil {
			return nil, fmt.Errorf("set alias on %s: %w", a.Name, err)
		}
	}
	if a.Flags&net.FlagUp == 0 {
		if err := h.LinkSetUp(l); err != nil {
			return nil, fmt.Errorf("set %s up: %w", a.Name, err)
		}
	}
	return h.LinkByIndex(a.Index)
}

// logger makes a nil logger usable.
func logger(log logrus.FieldLogger) logrus.FieldLogger {
	if log != nil {
		return log
	}
	l := logrus.New()
	l.SetOutput(io.Discard)
	return l
}
