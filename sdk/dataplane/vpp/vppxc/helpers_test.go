// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package vppxc_test

import (
	"context"
	"flag"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sirupsen/logrus"
	"go.fd.io/govpp/api"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	kernelmech "github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/kernel"
	vxlanmech "github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/vxlan"
	wgmech "github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/wireguard"
	"github.com/nsmesh/nsmesh/sdk/dataplane/kernel"
	"github.com/nsmesh/nsmesh/sdk/dataplane/vpp/vppxc"
	"github.com/nsmesh/nsmesh/sdk/networkservice/mechanisms/wireguard"
	"github.com/nsmesh/nsmesh/sdk/networkservice/xconnect"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// testNetNS is a namespace path every test can open: the test's own.
const testNetNS = "/proc/self/ns/net"

func testLogger(tb testing.TB) logrus.FieldLogger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	if testing.Verbose() {
		l.SetOutput(os.Stderr)
		l.SetLevel(logrus.DebugLevel)
	}
	return l.WithField("test", tb.Name())
}

// configured is one workload-side configuration the data plane asked for.
type configured struct {
	ns   kernel.NSID
	name string
	side kernel.Side
	cc   *networkservice.ConnectionContext
}

// configRecorder stands in for kernel.Configure when no VPP made the taps.
type configRecorder struct {
	mu    sync.Mutex
	calls []configured
	fail  error
}

func (c *configRecorder) configure(_ context.Context, _ logrus.FieldLogger, ns *kernel.NetNS, name string, side kernel.Side, cc *networkservice.ConnectionContext) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, configured{ns: ns.ID(), name: name, side: side, cc: cc})
	return c.fail
}

func (c *configRecorder) take() []configured {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.calls
	c.calls = nil
	return out
}

// keys is a fixed WireGuard key store (wireguard.PrivateKeys).
type keys map[wgmech.Key]wgmech.Key

func (k keys) PrivateKey(public wgmech.Key) (wgmech.Key, bool) {
	p, ok := k[public]
	return p, ok
}

// keyPair returns a fixed key pair whose private key starts with seed.
func keyPair(t testing.TB, seed byte) (private, public wgmech.Key) {
	private[0] = seed & 248
	private[31] = 64
	public, err := wireguard.PublicKey(private)
	if err != nil {
		t.Fatal(err)
	}
	return private, public
}

func newDataplane(t testing.TB, conn api.Connection, opts ...vppxc.Option) *vppxc.Dataplane {
	t.Helper()
	dp, err := vppxc.New(context.Background(), conn, append([]vppxc.Option{vppxc.WithOwner("fwd1"), vppxc.WithLogger(testLogger(t))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dp.Close)
	return dp
}

func kernelMech(ns, name string) *networkservice.Mechanism {
	m := kernelmech.New(kernelmech.NetNSURLFromPath(ns))
	kernelmech.ToMechanism(m).SetInterfaceName(name)
	return m
}

// vxlanMech is a VXLAN mechanism from src to dst.
func vxlanMech(src, dst string, vni uint32, srcPort, dstPort uint16) *networkservice.Mechanism {
	m := vxlanmech.New(net.ParseIP(src))
	v := vxlanmech.ToMechanism(m)
	v.SetDstIP(net.ParseIP(dst))
	if vni != 0 {
		_ = v.SetVNI(vni)
	}
	if srcPort != 0 {
		v.SetSrcPort(srcPort)
	}
	if dstPort != 0 {
		v.SetDstPort(dstPort)
	}
	return m
}

func wgMech(src, dst string, srcPort, dstPort uint16, srcKey, dstKey wgmech.Key) *networkservice.Mechanism {
	m := wgmech.New(net.ParseIP(src), srcKey)
	w := wgmech.ToMechanism(m)
	w.SetDstIP(net.ParseIP(dst))
	w.SetSrcPort(srcPort)
	w.SetDstPort(dstPort)
	w.SetDstPublicKey(dstKey)
	return m
}

// dualStack is a connection context with an IPv4 and an IPv6 address on
// each side.
func dualStack(mtu uint32) *networkservice.ConnectionContext {
	return &networkservice.ConnectionContext{
		MTU: mtu,
		IpContext: &networkservice.IPContext{
			SrcIpAddrs: []string{"10.0.0.1/32", "fd00::1/128"},
			DstIpAddrs: []string{"10.0.0.2/32", "fd00::2/128"},
		},
	}
}

func newPair(id, payload string, cc *networkservice.ConnectionContext, up, down *networkservice.Mechanism) *xconnect.Pair {
	return &xconnect.Pair{
		ID:         id,
		Upstream:   &networkservice.Connection{Id: id, Payload: payload, Context: cc, Mechanism: up},
		Downstream: &networkservice.Connection{Id: id, Payload: payload, Context: cc.Clone(), Mechanism: down},
	}
}

// golden compares got with testdata/<name>.golden, or rewrites it with
// -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	file := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '_'
	}, name)
	path := filepath.Join("testdata", file+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o600); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("messages differ from %s (run with -update after checking):\n--- got\n%s--- want\n%s", path, got, want)
	}
}
