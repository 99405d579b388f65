// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package kernelxc

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/nsmesh/nsmesh/sdk/dataplane/kernel"
)

// pins remembers the namespaces of this owner's connections in a directory
// of its own: one bind mount of the namespace's nsfs file per namespace,
// named <dev>-<ino>. A restarted data plane reopens them even when it cannot
// see the workloads' processes. A pin keeps its namespace alive, so it is
// removed as soon as no connection of this run uses the namespace (and, for
// pins of an earlier run, after the prune).
type pins struct {
	// dir is empty when pinning is off; every method is then a no-op.
	dir string

	// mu serializes the mounts in dir and guards the maps.
	mu sync.Mutex
	// of is the namespaces pinned for each connection; users counts the
	// connections of each namespace.
	of    map[string][]kernel.NSID
	users map[kernel.NSID]int
}

func newPins(stateDir, owner string) *pins {
	p := &pins{of: make(map[string][]kernel.NSID), users: make(map[kernel.NSID]int)}
	if stateDir != "" {
		// The suffix keeps an owner such as ".." inside stateDir.
		p.dir = filepath.Join(stateDir, url.PathEscape(owner)+".netns")
	}
	return p
}

func (p *pins) enabled() bool { return p.dir != "" }

func (p *pins) path(id kernel.NSID) string {
	return filepath.Join(p.dir, strconv.FormatUint(id.Dev, 10)+"-"+strconv.FormatUint(id.Ino, 10))
}

// parsePin is the inverse of the base name of path.
func parsePin(name string) (kernel.NSID, bool) {
	dev, ino, ok := strings.Cut(name, "-")
	if !ok {
		return kernel.NSID{}, false
	}
	d, err1 := strconv.ParseUint(dev, 10, 64)
	i, err2 := strconv.ParseUint(ino, 10, 64)
	return kernel.NSID{Dev: d, Ino: i}, err1 == nil && err2 == nil
}

// check makes the directory and proves that a namespace can be pinned in
// it, so that a read-only or unmountable directory stops the start rather
// than every connection.
func (p *pins) check() error {
	if !p.enabled() {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := os.MkdirAll(p.dir, 0o700); err != nil {
		return fmt.Errorf("kernelxc: state dir: %w", err)
	}
	own, err := kernel.CurrentNetNS()
	if err != nil {
		return fmt.Errorf("kernelxc: state dir: %w", err)
	}
	defer func() { _ = own.Close() }()
	probe := filepath.Join(p.dir, ".probe")
	err = mountPin(own, probe)
	if uerr := unpinPath(probe); err == nil && uerr != nil {
		err = uerr
	}
	if err != nil {
		return fmt.Errorf("kernelxc: state dir %s: %w", p.dir, err)
	}
	return nil
}

// hold pins the namespaces nss for the connection conn, in addition to the
// ones it holds already.
func (p *pins) hold(conn string, nss []*kernel.NetNS) error {
	if !p.enabled() {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ns := range nss {
		id := ns.ID()
		if slices.Contains(p.of[conn], id) {
			continue
		}
		if err := p.ensure(ns); err != nil {
			return err
		}
		p.of[conn] = append(p.of[conn], id)
		p.users[id]++
	}
	return nil
}

// ensure pins ns unless it is pinned already; p.mu is held.
func (p *pins) ensure(ns *kernel.NetNS) error {
	path := p.path(ns.ID())
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err == nil && (kernel.NSID{Dev: st.Dev, Ino: st.Ino}) == ns.ID() {
		return nil // pinned by an earlier run, or by this one for another connection
	}
	if err := os.MkdirAll(p.dir, 0o700); err != nil {
		return fmt.Errorf("kernelxc: pin %s: %w", ns, err)
	}
	if err := mountPin(ns, path); err != nil {
		return fmt.Errorf("kernelxc: pin %s: %w", ns, err)
	}
	return nil
}

// keepOnly shrinks the namespaces held for conn to those in ids and unpins
// the ones nobody else holds; nil releases them all.
func (p *pins) keepOnly(conn string, ids []kernel.NSID, logger logrus.FieldLogger) {
	if !p.enabled() {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var kept []kernel.NSID
	for _, id := range p.of[conn] {
		if slices.Contains(ids, id) {
			kept = append(kept, id)
			continue
		}
		if p.users[id]--; p.users[id] > 0 {
			continue
		}
		delete(p.users, id)
		if err := unpinPath(p.path(id)); err != nil {
			logger.WithError(err).Warn("kernelxc: unpin namespace")
		}
	}
	if len(kept) == 0 {
		delete(p.of, conn)
	} else {
		p.of[conn] = kept
	}
}

// open returns the pinned namespaces, to be closed by the caller. Pin files
// whose mount is gone (the mount namespace that held it ended, or the host
// rebooted) are removed.
func (p *pins) open(logger logrus.FieldLogger) ([]*kernel.NetNS, error) {
	if !p.enabled() {
		return nil, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	entries, err := os.ReadDir(p.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("kernelxc: pinned namespaces: %w", err)
	}
	var out []*kernel.NetNS
	for _, e := range entries {
		if _, ok := parsePin(e.Name()); !ok {
			continue
		}
		path := filepath.Join(p.dir, e.Name())
		ns, err := kernel.OpenNetNS(path)
		if err != nil {
			logger.WithField("pin", path).Debug("kernelxc: removing a pin whose mount is gone")
			if err := unpinPath(path); err != nil {
				logger.WithError(err).Warn("kernelxc: remove stale pin")
			}
			continue
		}
		out = append(out, ns)
	}
	return out, nil
}

// sweep unpins every namespace no connection of this run holds, except
// those in keep, and returns how many it unpinned. The caller makes sure
// that no Program is in flight.
func (p *pins) sweep(logger logrus.FieldLogger, keep map[kernel.NSID]bool) int {
	if !p.enabled() {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	entries, err := os.ReadDir(p.dir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			logger.WithError(err).Warn("kernelxc: sweep pinned namespaces")
		}
		return 0
	}
	n := 0
	for _, e := range entries {
		id, ok := parsePin(e.Name())
		if !ok || p.users[id] > 0 || keep[id] {
			continue
		}
		if err := unpinPath(filepath.Join(p.dir, e.Name())); err != nil {
			logger.WithError(err).Warn("kernelxc: unpin namespace")
			continue
		}
		n++
	}
	return n
}

// mountPin bind-mounts ns's nsfs file onto path, creating path as the mount
// point. The descriptor is reached through /proc/self/fd, which the process
// always sees, whatever its view of other processes.
func mountPin(ns *kernel.NetNS, path string) error {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o400)
	if err != nil {
		return err
	}
	_ = f.Close()
	src := "/proc/self/fd/" + strconv.Itoa(ns.Fd())
	if err := unix.Mount(src, path, "", unix.MS_BIND, ""); err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("bind mount onto %s: %w", path, err)
	}
	return nil
}

// unpinPath unmounts whatever is mounted on path and removes the file.
func unpinPath(path string) error {
	// Mounts can be stacked (a pin made twice by runs that raced); a few
	// rounds remove them all, EINVAL says that none is left.
	for range 4 {
		err := unix.Unmount(path, unix.MNT_DETACH)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
			break
		}
		if err != nil {
			return fmt.Errorf("kernelxc: unmount pin %s: %w", path, err)
		}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("kernelxc: remove pin %s: %w", path, err)
	}
	return nil
}
