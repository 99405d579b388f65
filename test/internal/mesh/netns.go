// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package mesh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// netnsDir is where `ip netns` keeps its named namespaces.
const netnsDir = "/run/netns"

// NetNS is a named network namespace created with `ip netns add`.
type NetNS struct {
	Name string
}

// ip runs the ip command and returns its error with its output.
func ip(ctx context.Context, args ...string) error {
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("mesh: ip %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// CreateNetNS creates the namespace name with its loopback up.
func CreateNetNS(ctx context.Context, name string) (*NetNS, error) {
	if err := ip(ctx, "netns", "add", name); err != nil {
		return nil, err
	}
	n := &NetNS{Name: name}
	if err := ip(ctx, "-n", name, "link", "set", "lo", "up"); err != nil {
		_ = n.Delete(context.WithoutCancel(ctx))
		return nil, err
	}
	return n, nil
}

// Delete kills what still runs in the namespace and deletes it. A missing
// namespace is not an error.
func (n *NetNS) Delete(ctx context.Context) error {
	if _, err := os.Stat(filepath.Join(netnsDir, n.Name)); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	killNetNSPids(ctx, n.Name)
	return ip(ctx, "netns", "del", n.Name)
}

// killNetNSPids SIGKILLs the processes of a namespace created by a mesh;
// they are the mesh's own (the binaries it started), nothing else runs there.
func killNetNSPids(ctx context.Context, name string) {
	out, err := exec.CommandContext(ctx, "ip", "netns", "pids", name).Output()
	if err != nil {
		return
	}
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil && pid != os.Getpid() {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// Do runs fn on an OS thread that is in the namespace. Sockets fn creates
// stay in the namespace after Do returns.
func (n *NetNS) Do(fn func() error) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("mesh: current netns: %w", err)
	}
	defer orig.Close()
	target, err := netns.GetFromName(n.Name)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("mesh: netns %s: %w", n.Name, err)
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("mesh: enter netns %s: %w", n.Name, err)
	}
	ferr := fn()
	if err := netns.Set(orig); err != nil {
		// The thread stays locked, so the runtime ends it with the goroutine
		// instead of reusing it in the wrong namespace.
		return errors.Join(ferr, fmt.Errorf("mesh: leave netns %s: %w", n.Name, err))
	}
	runtime.UnlockOSThread()
	return ferr
}

// Handle returns a netlink handle in the namespace; close it after use.
func (n *NetNS) Handle() (*netlink.Handle, error) {
	h, err := netns.GetFromName(n.Name)
	if err != nil {
		return nil, fmt.Errorf("mesh: netns %s: %w", n.Name, err)
	}
	defer h.Close()
	nh, err := netlink.NewHandleAt(h)
	if err != nil {
		return nil, fmt.Errorf("mesh: netlink in %s: %w", n.Name, err)
	}
	return nh, nil
}

// Link is what the tests look at of an interface.
type Link struct {
	Name  string
	Kind  string // veth, vxlan, device (loopback), ...
	Alias string
	MTU   int
	Up    bool
	Addrs []netlink.Addr // global ones
}

// Links lists the namespace's interfaces, sorted by name.
func (n *NetNS) Links() ([]Link, error) {
	h, err := n.Handle()
	if err != nil {
		return nil, err
	}
	defer h.Close()
	return listLinks(h, n.Name)
}

// dumpAttempts bounds the retries of a netlink dump that the kernel
// interrupted because the table changed meanwhile (connections being
// programmed in the same namespace).
const dumpAttempts = 50

func listLinks(h *netlink.Handle, where string) ([]Link, error) {
	var (
		out []Link
		err error
	)
	for range dumpAttempts {
		if out, err = listLinksOnce(h, where); !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	return out, err
}

func listLinksOnce(h *netlink.Handle, where string) ([]Link, error) {
	links, err := h.LinkList()
	if err != nil {
		return nil, fmt.Errorf("mesh: links of %s: %w", where, err)
	}
	var out []Link
	for _, l := range links {
		a := l.Attrs()
		addrs, err := h.AddrList(l, netlink.FAMILY_ALL)
		if isNotFound(err) {
			continue // deleted since the link dump
		}
		if err != nil {
			return nil, fmt.Errorf("mesh: addresses of %s in %s: %w", a.Name, where, err)
		}
		addrs = slices.DeleteFunc(addrs, func(a netlink.Addr) bool { return !a.IP.IsGlobalUnicast() })
		out = append(out, Link{Name: a.Name, Kind: l.Type(), Alias: a.Alias, MTU: a.MTU,
			Up: a.Flags&net.FlagUp != 0, Addrs: addrs})
	}
	slices.SortFunc(out, func(a, b Link) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// LinkNames returns the names of the namespace's interfaces, sorted.
func (n *NetNS) LinkNames() ([]string, error) {
	links, err := n.Links()
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(links))
	for _, l := range links {
		names = append(names, l.Name)
	}
	return names, nil
}

// HostLinksWithAlias lists the interfaces of the host's own namespace whose
// alias starts with prefix (a forwarder's mark "nsm:<name>:"): a forwarder
// must never leave any there.
func HostLinksWithAlias(prefix string) ([]string, error) {
	h, err := netlink.NewHandle()
	if err != nil {
		return nil, fmt.Errorf("mesh: netlink: %w", err)
	}
	defer h.Close()
	links, err := listLinks(h, "the host namespace")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range links {
		if strings.HasPrefix(l.Alias, prefix) {
			out = append(out, l.Name)
		}
	}
	return out, nil
}

// RemoveAll deletes every namespace whose name starts with prefix, with
// whatever still runs in them, and returns the names deleted. An
// interrupted process calls it with its own NewPrefix root and pid, to
// catch meshes that were still starting.
func RemoveAll(ctx context.Context, prefix string) ([]string, error) {
	entries, err := os.ReadDir(netnsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("mesh: %w", err)
	}
	var removed []string
	var errs []error
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		n := &NetNS{Name: e.Name()}
		if err := n.Delete(ctx); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, n.Name)
	}
	return removed, errors.Join(errs...)
}

// RemoveStale deletes the namespaces named <root><pid>-… whose creating
// process (pid) is gone, with whatever still runs in them: what a killed
// test run or demo left. It returns the names deleted.
func RemoveStale(ctx context.Context, root string) ([]string, error) {
	entries, err := os.ReadDir(netnsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("mesh: %w", err)
	}
	var removed []string
	var errs []error
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), root)
		if !ok {
			continue
		}
		pidStr, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid == os.Getpid() || processAlive(pid) {
			continue
		}
		n := &NetNS{Name: e.Name()}
		if err := n.Delete(ctx); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, n.Name)
	}
	return removed, errors.Join(errs...)
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// Poll calls check every interval until it returns nil or ctx ends; then it
// returns the last error of check. An error wrapped by Permanent ends the
// polling at once.
func Poll(ctx context.Context, interval time.Duration, check func() error) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		err := check()
		if err == nil {
			return nil
		}
		var perm permanentError
		if errors.As(err, &perm) {
			return perm.error
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (gave up: %v)", err, context.Cause(ctx))
		case <-t.C:
		}
	}
}

type permanentError struct{ error }

// Permanent marks an error of a Poll check as final.
func Permanent(err error) error { return permanentError{err} }

func isNotFound(err error) bool {
	var nf netlink.LinkNotFoundError
	return err != nil && (errors.As(err, &nf) || errors.Is(err, syscall.ENODEV))
}
