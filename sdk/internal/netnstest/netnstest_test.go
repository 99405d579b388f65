// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package netnstest_test

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/nsmesh/nsmesh/sdk/internal/netnstest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Two namespaces joined by a veth pair carry ping and TCP both ways, and
// Remove deletes a namespace at once.
func TestVethTraffic(t *testing.T) {
	netnstest.RequireRoot(t)
	a, b := netnstest.NewUp(t, "ta"), netnstest.New(t, "tb")
	if a.Name == b.Name {
		t.Fatalf("two namespaces named %s", a.Name)
	}
	netnstest.Veth(t,
		netnstest.End{NS: a.NetNS, Name: "v-a", Addr: netip.MustParsePrefix("10.250.0.1/30")},
		netnstest.End{NS: b.NetNS, Name: "v-b", Addr: netip.MustParsePrefix("10.250.0.2/30")})
	netnstest.Veth(t,
		netnstest.End{NS: a.NetNS, Name: "v6-a", Addr: netip.MustParsePrefix("fd00:250::1/64")},
		netnstest.End{NS: b.NetNS, Name: "v6-b", Addr: netip.MustParsePrefix("fd00:250::2/64")})
	for _, c := range []struct{ src, dst string }{
		{"10.250.0.1", "10.250.0.2"}, {"fd00:250::1", "fd00:250::2"},
	} {
		src, dst := netip.MustParseAddr(c.src), netip.MustParseAddr(c.dst)
		if err := netnstest.Ping(a.NetNS, src, dst, 5); err != nil {
			t.Error(err)
		}
		data := make([]byte, 1<<20)
		_, _ = rand.Read(data)
		if err := netnstest.TCPEcho(a.NetNS, src, b.NetNS, dst, data); err != nil {
			t.Error(err)
		}
	}
	if err := netnstest.Ping(a.NetNS, netip.MustParseAddr("10.250.0.1"), netip.MustParseAddr("10.250.0.3"), 1); err == nil {
		t.Error("ping to an address nobody has: want an error")
	}
	b.Remove()
	b.Remove()
	if _, err := os.Stat(b.Path()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s after Remove: %v, want it gone", b.Path(), err)
	}
}

// The two-node topology joins its nodes with the underlay and nothing else.
func TestTwoNodes(t *testing.T) {
	netnstest.RequireRoot(t)
	n := netnstest.NewTwoNodes(t, "two", netip.MustParsePrefix("10.251.0.1/24"), netip.MustParsePrefix("10.251.0.2/24"))
	for _, c := range []struct {
		ns   *netnstest.NS
		want string
	}{{n.NodeA, "[ul-a veth]"}, {n.NodeB, "[ul-b veth]"}, {n.WA, "[]"}, {n.WB, "[]"}} {
		if got := fmt.Sprint(netnstest.Links(t, c.ns)); got != c.want {
			t.Errorf("links in %s: %s, want %s", c.ns.Name, got, c.want)
		}
	}
	if err := netnstest.Ping(n.NodeA.NetNS, n.IPA, n.IPB, 5); err != nil {
		t.Error(err)
	}
}
