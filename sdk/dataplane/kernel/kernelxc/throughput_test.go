// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package kernelxc_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/dataplane/kernel/kernelxc"
	"github.com/nsmesh/nsmesh/sdk/internal/netnstest"
	"github.com/nsmesh/nsmesh/sdk/networkservice/xconnect"
)

// TestThroughput measures, in one run, single-flow TCP throughput between two
// workload namespaces on two "nodes" (namespaces joined by a veth underlay)
// over a WireGuard tunnel and over a VXLAN tunnel, against a veth pair
// joining the same two workload namespaces directly. It is a measurement,
// not a check: it runs only with NSM_PERF=1 and iperf3 installed
// (hack/setup.sh), and reports with t.Log:
//
//	cd sdk && NSM_PERF=1 go test -run TestThroughput -v -count=1 ./dataplane/kernel/kernelxc/
//
// NSM_PERF_SECONDS sets the length of each iperf3 run (default 10).
func TestThroughput(t *testing.T) {
	if os.Getenv("NSM_PERF") == "" {
		t.Skip("a measurement: set NSM_PERF=1 to run it")
	}
	netnstest.RequireRoot(t)
	if _, err := exec.LookPath("iperf3"); err != nil {
		t.Skip("iperf3 is not installed (hack/setup.sh installs it)")
	}
	seconds := 10
	if s := os.Getenv("NSM_PERF_SECONDS"); s != "" {
		if _, err := fmt.Sscan(s, &seconds); err != nil || seconds < 1 {
			t.Fatalf("NSM_PERF_SECONDS=%q", s)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(3*seconds+60)*time.Second)
	defer cancel()
	n := netnstest.NewTwoNodes(t, "tp", netip.MustParsePrefix("10.225.0.1/24"), netip.MustParsePrefix("10.225.0.2/24"))

	// WireGuard: 172.16.9.1 -> 172.16.9.0.
	keysA, keysB := keyring{}, keyring{}
	pubA, pubB := keysA.add(t), keysB.add(t)
	fwdA := newWGDataplane(t, "tpa", n.NodeA, keysA)
	fwdB := newWGDataplane(t, "tpb", n.NodeB, keysB)
	wg := wgMech(n.IPA, n.IPB, 51890, 51891, pubA, pubB)
	wgA := newPair("tp-wa", kernelMech("file://"+n.WA.Path(), "wg-a"), wg, p2pContext(0), "IP")
	wgB := newPair("tp-wb", wg.Clone(), kernelMech("file://"+n.WB.Path(), "wg-b"), p2pContext(0), "IP")

	// VXLAN: 172.16.11.1 -> 172.16.11.0, on the same dataplanes.
	vx := vxlanMech(n.IPA, n.IPB, 9901)
	vxCtx := &networkservice.ConnectionContext{IpContext: &networkservice.IPContext{
		SrcIpAddrs: []string{"172.16.11.1/32"}, DstIpAddrs: []string{"172.16.11.0/32"},
	}}
	vxA := newPair("tp-va", kernelMech("file://"+n.WA.Path(), "vx-a"), vx, vxCtx, "IP")
	vxB := newPair("tp-vb", vx.Clone(), kernelMech("file://"+n.WB.Path(), "vx-b"), vxCtx, "IP")
	for _, s := range []struct {
		dp *kernelxc.Dataplane
		p  *xconnect.Pair
	}{{fwdB, wgB}, {fwdA, wgA}, {fwdB, vxB}, {fwdA, vxA}} {
		if err := s.dp.Program(ctx, s.p); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.dp.Unprogram(context.Background(), s.p) })
	}

	// The baseline: a veth pair straight from one workload to the other,
	// 172.16.10.1 -> 172.16.10.2.
	netnstest.Veth(t,
		netnstest.End{NS: n.WA.NetNS, Name: "dv-a", Addr: netip.MustParsePrefix("172.16.10.1/24")},
		netnstest.End{NS: n.WB.NetNS, Name: "dv-b", Addr: netip.MustParsePrefix("172.16.10.2/24")})
	pingBoth(t, n.WA, n.WB)

	server := exec.CommandContext(ctx, "ip", "netns", "exec", n.WB.Name, "iperf3", "-s", "-p", "5299")
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = server.Process.Kill()
		_ = server.Wait()
	})
	waitListening(t, n.WA, "172.16.10.2:5299")

	results := map[string]float64{}
	for _, path := range []struct{ name, dst string }{
		{"veth", "172.16.10.2"}, {"wireguard", dstV4.String()}, {"vxlan", "172.16.11.0"},
	} {
		out, err := exec.CommandContext(ctx, "ip", "netns", "exec", n.WA.Name, "iperf3", "-c", path.dst, "-p", "5299",
			"-t", fmt.Sprint(seconds), "-J").Output()
		if err != nil {
			t.Fatalf("iperf3 over %s: %v\n%s", path.name, err, out)
		}
		var r struct {
			End struct {
				SumReceived struct {
					BitsPerSecond float64 `json:"bits_per_second"`
				} `json:"sum_received"`
				CPU struct {
					Host   float64 `json:"host_total"`
					Remote float64 `json:"remote_total"`
				} `json:"cpu_utilization_percent"`
			} `json:"end"`
		}
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatalf("iperf3 output: %v", err)
		}
		results[path.name] = r.End.SumReceived.BitsPerSecond
		t.Logf("%-9s %8.2f Gbit/s (iperf3 cpu: sender %.0f%%, receiver %.0f%%)", path.name,
			r.End.SumReceived.BitsPerSecond/1e9, r.End.CPU.Host, r.End.CPU.Remote)
	}
	if results["veth"] > 0 {
		t.Logf("ratio to the direct veth pair: wireguard %.3f, vxlan %.3f",
			results["wireguard"]/results["veth"], results["vxlan"]/results["veth"])
	}
}

// waitListening waits until addr accepts TCP connections from inside ns.
func waitListening(t *testing.T, ns testNS, addr string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var ok bool
		_ = ns.Do(func() error {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				ok = true
				_ = c.Close()
			}
			return nil
		})
		if ok {
			return
		}
	}
	t.Fatalf("nothing listens on %s", addr)
}
