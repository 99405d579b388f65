// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package kernel

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// nsGetNSType is NS_GET_NSTYPE (_IO(0xb7, 0x3)) from linux/nsfs.h; x/sys does
// not export it.
const nsGetNSType = 0xb703

// NSID identifies a namespace the way the kernel mechanism's inode URLs do:
// the device and inode of its nsfs file. Two handles with equal NSIDs refer
// to the same namespace.
type NSID struct {
	Dev uint64
	Ino uint64
}

// String returns "dev/ino", the host and path of an inode:// URL.
func (id NSID) String() string { return fmt.Sprintf("%d/%d", id.Dev, id.Ino) }

// InodeURL returns the inode://dev/ino form used on the wire by fd passing.
func (id NSID) InodeURL() string { return "inode://" + id.String() }

// NetNS is an open network namespace. It owns one file descriptor, which
// keeps the namespace alive until Close even if every process in it exits.
// A NetNS may be shared by goroutines; Close it only when nobody uses it.
type NetNS struct {
	fd    int
	id    NSID
	from  string
	close sync.Once
}

// OpenNetNS opens a network namespace from a reference, in one of the forms
// the mesh passes around:
//   - a file:// URL, e.g. file:///proc/<pid>/fd/<n> after grpcfd fd passing,
//     or file:///proc/<pid>/ns/net;
//   - an absolute path to an nsfs file (/proc/<pid>/ns/net, /run/netns/<name>);
//   - a bare name, taken as /run/netns/<name> (what `ip netns add` creates).
//
// inode:// URLs are rejected: they only name a namespace and must first be
// resolved into a file:// URL by the fd-passing layer.
func OpenNetNS(ref string) (*NetNS, error) {
	p, err := netnsPath(ref)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("kernel: open netns %q: %w", ref, err)
	}
	n, err := newNetNS(fd, ref)
	if err != nil {
		_ = unix.Close(fd)
		return nil, err
	}
	return n, nil
}

// OpenNetNSFd returns a NetNS for a namespace file descriptor. The
// descriptor is duplicated, so the caller keeps ownership of fd.
func OpenNetNSFd(fd uintptr) (*NetNS, error) {
	dup, err := unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("kernel: dup netns fd %d: %w", fd, err)
	}
	n, err := newNetNS(dup, "fd:"+strconv.Itoa(int(fd)))
	if err != nil {
		_ = unix.Close(dup)
		return nil, err
	}
	return n, nil
}

// CurrentNetNS opens the network namespace of the calling thread, which for
// any goroutine not locked into another namespace is the process's own.
func CurrentNetNS() (*NetNS, error) {
	return OpenNetNS("/proc/thread-self/ns/net")
}

func netnsPath(ref string) (string, error) {
	switch {
	case ref == "":
		return "", errors.New("kernel: empty netns reference")
	case strings.HasPrefix(ref, "inode://"):
		return "", fmt.Errorf("kernel: netns %q: inode URLs must be resolved to a file:// URL by fd passing first", ref)
	case strings.Contains(ref, "://"):
		u, err := url.Parse(ref)
		if err != nil {
			return "", fmt.Errorf("kernel: netns URL %q: %w", ref, err)
		}
		if u.Scheme != "file" {
			return "", fmt.Errorf("kernel: netns URL %q: scheme %q is not supported, want file://", ref, u.Scheme)
		}
		if u.Host != "" && u.Host != "localhost" {
			return "", fmt.Errorf("kernel: netns URL %q: a host is not allowed", ref)
		}
		if !filepath.IsAbs(u.Path) {
			return "", fmt.Errorf("kernel: netns URL %q: path must be absolute", ref)
		}
		return u.Path, nil
	case filepath.IsAbs(ref):
		return ref, nil
	case strings.ContainsRune(ref, '/') || ref == "." || ref == "..":
		return "", fmt.Errorf("kernel: netns %q: want an absolute path, a file:// URL or a name under /run/netns", ref)
	default:
		return filepath.Join("/run/netns", ref), nil
	}
}

func newNetNS(fd int, from string) (*NetNS, error) {
	typ, err := unix.IoctlRetInt(fd, nsGetNSType)
	if err != nil {
		return nil, fmt.Errorf("kernel: netns %q: not a namespace file: %w", from, err)
	}
	if typ != unix.CLONE_NEWNET {
		return nil, fmt.Errorf("kernel: netns %q: namespace type %#x is not a network namespace", from, typ)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("kernel: netns %q: stat: %w", from, err)
	}
	return &NetNS{fd: fd, id: NSID{Dev: st.Dev, Ino: st.Ino}, from: from}, nil
}

// Fd returns the namespace file descriptor. It stays owned by the NetNS.
func (n *NetNS) Fd() int { return n.fd }

// ID returns the namespace identity (nsfs device and inode).
func (n *NetNS) ID() NSID { return n.id }

// Inode returns the namespace inode, as `ls -Li /proc/<pid>/ns/net` shows it.
func (n *NetNS) Inode() uint64 { return n.id.Ino }

// String describes the namespace for logs and errors.
func (n *NetNS) String() string {
	if n == nil {
		return "netns(current)"
	}
	return fmt.Sprintf("netns(%s ino %d)", n.from, n.id.Ino)
}

// Close releases the descriptor. It is safe to call more than once.
func (n *NetNS) Close() error {
	var err error
	n.close.Do(func() {
		if e := unix.Close(n.fd); e != nil {
			err = fmt.Errorf("kernel: close %s: %w", n, e)
		}
	})
	return err
}

// handle returns a rtnetlink handle whose socket lives in n, so link,
// address, route and neighbour operations need no thread switching. A nil
// NetNS means the namespace of the calling thread.
func (n *NetNS) handle() (*netlink.Handle, error) {
	var (
		h   *netlink.Handle
		err error
	)
	if n == nil {
		h, err = netlink.NewHandle(unix.NETLINK_ROUTE)
	} else {
		h, err = netlink.NewHandleAt(netns.NsHandle(n.fd), unix.NETLINK_ROUTE)
	}
	if err != nil {
		return nil, fmt.Errorf("kernel: netlink handle in %s: %w", n, err)
	}
	return h, nil
}

// Do runs fn on an OS thread that has entered n. Only use it for what a
// netlink handle cannot do (sysctls under /proc/sys/net, opening sockets).
// Sockets fn opens stay in n after Do returns. fn must not start goroutines
// that expect to run in n. If the thread cannot be switched back, it is
// discarded instead of being returned to the Go scheduler.
func (n *NetNS) Do(fn func() error) error {
	type result struct{ err error }
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{fmt.Errorf("kernel: current netns: %w", err)}
			return
		}
		defer func() { _ = orig.Close() }()
		if err := unix.Setns(n.fd, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- result{fmt.Errorf("kernel: enter %s: %w", n, err)}
			return
		}
		var fnErr error
		func() {
			defer func() {
				// A panic becomes an error so that the thread is still
				// switched back below instead of unwinding inside n.
				if r := recover(); r != nil {
					fnErr = fmt.Errorf("kernel: panic in %s: %v", n, r)
				}
			}()
			fnErr = fn()
		}()
		if err := netns.Set(orig); err != nil {
			// Leave the thread locked: the runtime terminates it when this
			// goroutine exits, so no goroutine ever runs in the wrong netns.
			ch <- result{errors.Join(fnErr, fmt.Errorf("kernel: leave %s: %w", n, err))}
			return
		}
		runtime.UnlockOSThread()
		ch <- result{fnErr}
	}()
	return (<-ch).err
}

// ScanNetNS opens every distinct network namespace in use on the host: those
// of all processes (/proc/<pid>/ns/net) and the named ones under /run/netns.
// A restarted forwarder uses it with List to find what an earlier run left.
// The caller must Close every returned NetNS.
func ScanNetNS() ([]*NetNS, error) {
	var candidates []string
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("kernel: scan netns: %w", err)
	}
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err == nil {
			candidates = append(candidates, filepath.Join("/proc", e.Name(), "ns", "net"))
		}
	}
	if named, err := os.ReadDir("/run/netns"); err == nil {
		for _, e := range named {
			candidates = append(candidates, filepath.Join("/run/netns", e.Name()))
		}
	}
	seen := make(map[NSID]bool)
	var out []*NetNS
	for _, p := range candidates {
		// stat first so that each namespace is opened once, however many
		// processes share it.
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil {
			continue // the process exited or the file is not ours to read
		}
		id := NSID{Dev: st.Dev, Ino: st.Ino}
		if seen[id] {
			continue
		}
		n, err := OpenNetNS(p)
		if err != nil {
			continue // exited meanwhile, or /run/netns holds a non-namespace file
		}
		seen[n.ID()] = true
		seen[id] = true
		out = append(out, n)
	}
	return out, nil
}
