// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package memif_test

import (
	"testing"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/memif"
)

func TestNew(t *testing.T) {
	m := memif.New("/var/lib/nsm/memif.sock")
	if m.GetCls() != "LOCAL" || m.GetType() != "MEMIF" || m.GetParameters()["inodeURL"] != "file:///var/lib/nsm/memif.sock" {
		t.Fatalf("New = %v", m)
	}
	mm := memif.ToMechanism(m)
	if p, err := mm.FilePath(); err != nil || p != "/var/lib/nsm/memif.sock" {
		t.Errorf("FilePath = %q, %v", p, err)
	}
	if mm.IsAbstract() {
		t.Error("a socket file is not abstract")
	}

	a := memif.ToMechanism(memif.NewAbstract("/proc/7/ns/net"))
	a.SetSocketFilename("memif-7")
	if !a.IsAbstract() || a.GetSocketFilename() != "memif-7" || a.GetNetNSURL() != "file:///proc/7/ns/net" {
		t.Errorf("abstract = %v", a.Mechanism())
	}
}

func TestToMechanism(t *testing.T) {
	if memif.ToMechanism(&networkservice.Mechanism{Type: "KERNEL"}) != nil || memif.ToMechanism(nil) != nil {
		t.Fatal("ToMechanism must return nil for other types")
	}
	mm := memif.ToMechanism(&networkservice.Mechanism{Type: "MEMIF"})
	if _, err := mm.FilePath(); err == nil {
		t.Error("FilePath without a URL must fail")
	}
	mm.SetSocketFileURL("inode://3/77")
	if mm.GetSocketFileURL() != "inode://3/77" {
		t.Error("SetSocketFileURL did not store the URL")
	}
	if _, err := mm.FilePath(); err == nil {
		t.Error("an inode:// URL is not a usable file path")
	}
	mm.SetNetNSURL("file:///x")
	if mm.GetSocketFileURL() != "file:///x" {
		t.Error("NetNSURL and SocketFileURL share one key")
	}
}
