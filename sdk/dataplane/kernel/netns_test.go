// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package kernel_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/nsmesh/nsmesh/sdk/dataplane/kernel"
	"github.com/nsmesh/nsmesh/sdk/internal/netnstest"
)

func TestOpenNetNSForms(t *testing.T) {
	self, err := kernel.CurrentNetNS()
	if err != nil {
		t.Fatalf("CurrentNetNS: %v", err)
	}
	defer func() { _ = self.Close() }()

	f, err := os.Open("/proc/self/ns/net")
	if err != nil {
		t.Fatalf("open own netns: %v", err)
	}
	defer func() { _ = f.Close() }()

	for _, ref := range []string{
		"/proc/self/ns/net",
		"file:///proc/self/ns/net",
		fmt.Sprintf("file:///proc/%d/fd/%d", os.Getpid(), f.Fd()),
		"file://localhost/proc/thread-self/ns/net",
	} {
		t.Run(ref, func(t *testing.T) {
			n, err := kernel.OpenNetNS(ref)
			if err != nil {
				t.Fatalf("OpenNetNS: %v", err)
			}
			defer func() { _ = n.Close() }()
			if n.ID() != self.ID() {
				t.Errorf("ID = %v, want %v", n.ID(), self.ID())
			}
		})
	}

	t.Run("fd", func(t *testing.T) {
		n, err := kernel.OpenNetNSFd(f.Fd())
		if err != nil {
			t.Fatalf("OpenNetNSFd: %v", err)
		}
		if n.ID() != self.ID() || n.Fd() == int(f.Fd()) {
			t.Errorf("OpenNetNSFd: id %v fd %d, want id %v and a duplicate of fd %d", n.ID(), n.Fd(), self.ID(), f.Fd())
		}
		if err := n.Close(); err != nil {
			t.Fatal(err)
		}
		if err := n.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		// The caller's descriptor must survive.
		if _, err := f.Stat(); err != nil {
			t.Errorf("caller fd closed by NetNS.Close: %v", err)
		}
	})

	var st = self.ID()
	if got, want := st.InodeURL(), fmt.Sprintf("inode://%d/%d", st.Dev, st.Ino); got != want {
		t.Errorf("InodeURL = %q, want %q", got, want)
	}
	if self.Inode() != st.Ino {
		t.Errorf("Inode = %d, want %d", self.Inode(), st.Ino)
	}
}

func TestOpenNetNSErrors(t *testing.T) {
	for _, tc := range []struct {
		ref  string
		want string
	}{
		{"", "empty"},
		{"inode://4/4026531840", "inode URLs"},
		{"http://example.com/ns", "scheme"},
		{"file://other/proc/self/ns/net", "host"},
		{"file:relative/path", "absolute"},
		{"relative/path", "absolute path"},
		{"/proc/self/ns/uts", "not a network namespace"},
		{"/proc/self/status", "not a namespace"},
		{"/nonexistent/nsmesh-test", "no such file"},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			n, err := kernel.OpenNetNS(tc.ref)
			if err == nil {
				_ = n.Close()
				t.Fatalf("OpenNetNS(%q) succeeded", tc.ref)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("OpenNetNS(%q) = %v, want it to mention %q", tc.ref, err, tc.want)
			}
		})
	}
}

func TestDoEntersAndRestores(t *testing.T) {
	netnstest.RequireRoot(t)
	ns := netnstest.New(t, "do").NetNS
	before, err := kernel.CurrentNetNS()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = before.Close() }()

	var inside kernel.NSID
	err = ns.Do(func() error {
		cur, err := kernel.CurrentNetNS()
		if err != nil {
			return err
		}
		defer func() { _ = cur.Close() }()
		inside = cur.ID()
		return nil
	})
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	if inside != ns.ID() {
		t.Errorf("inside Do the thread was in %v, want %v", inside, ns.ID())
	}
	sentinel := errors.New("boom")
	if err := ns.Do(func() error { return sentinel }); !errors.Is(err, sentinel) {
		t.Errorf("Do returned %v, want the function's error", err)
	}
	if err := ns.Do(func() error { panic("oops") }); err == nil || !strings.Contains(err.Error(), "oops") {
		t.Errorf("Do with a panicking function returned %v", err)
	}
	// Many goroutines afterwards must all still be in the original netns.
	for range 20 {
		after, err := kernel.CurrentNetNS()
		if err != nil {
			t.Fatal(err)
		}
		if after.ID() != before.ID() {
			t.Fatalf("a thread was left in %v", after.ID())
		}
		_ = after.Close()
	}
}

func TestScanNetNS(t *testing.T) {
	netnstest.RequireRoot(t)
	ns := netnstest.New(t, "scan").NetNS
	all, err := kernel.ScanNetNS()
	if err != nil {
		t.Fatalf("ScanNetNS: %v", err)
	}
	seen := map[kernel.NSID]int{}
	for _, n := range all {
		seen[n.ID()]++
		_ = n.Close()
	}
	self, err := kernel.CurrentNetNS()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = self.Close() }()
	for _, want := range []kernel.NSID{ns.ID(), self.ID()} {
		if seen[want] != 1 {
			t.Errorf("ScanNetNS returned %v %d times, want once", want, seen[want])
		}
	}
}
