// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Command bench-e2e measures nsmesh on the real data plane (issue 3,
// "Numbers"), in a two-node mesh of network namespaces (test/internal/mesh):
//
//   - Request latency through the real binaries, local (veth) and remote
//     (VXLAN): p50/p99 of 200 sequential Requests (each followed by a
//     Close), and of 20 concurrent clients doing the same, measured by
//     nsmload in a workload namespace.
//   - Throughput with iperf3 through a mesh interface against a veth pair
//     made directly between the same two namespaces, in one run, as a ratio.
//   - VmRSS and goroutines (pprof) of both nsmgrs and forwarders with no
//     connection, with 500 held connections, and after closing them.
//
// Run it as root from the repository (make bench-e2e or
// hack/bench-e2e.sh); it prints a report and a pass/miss line per goal.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nsmesh/nsmesh/test/internal/mesh"
)

const prefixRoot = "nsmb-"

type options struct {
	seq, conc, per, hold int
	iperfTime            time.Duration
	rounds               int
	skipLatency          bool
	skipIperf            bool
	skipMemory           bool
	logs                 string
}

func main() {
	var o options
	flag.IntVar(&o.seq, "seq", 200, "sequential Requests per path")
	flag.IntVar(&o.conc, "clients", 20, "concurrent clients")
	flag.IntVar(&o.per, "per", 10, "Requests per concurrent client")
	flag.IntVar(&o.hold, "hold", 500, "connections held for the memory measurement")
	flag.DurationVar(&o.iperfTime, "iperf-time", 5*time.Second, "duration of one iperf3 run")
	flag.IntVar(&o.rounds, "rounds", 4, "iperf3 rounds per path (direct and mesh each; the order alternates)")
	flag.BoolVar(&o.skipLatency, "skip-latency", false, "skip the latency runs")
	flag.BoolVar(&o.skipIperf, "skip-iperf", false, "skip the throughput runs")
	flag.BoolVar(&o.skipMemory, "skip-memory", false, "skip the memory runs")
	flag.StringVar(&o.logs, "logs", "", "keep the processes' logs (and sockets) in this directory")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench-e2e:", err)
		os.Exit(1)
	}
}

func run(o options) (err error) {
	if os.Geteuid() != 0 {
		return errors.New("needs root (network namespaces, veth and vxlan devices)")
	}
	if _, err := exec.LookPath("iperf3"); err != nil && !o.skipIperf {
		return errors.New("needs iperf3 (make setup installs it)")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if removed, err := mesh.RemoveStale(ctx, prefixRoot); err == nil && len(removed) > 0 {
		fmt.Println("removed namespaces of an earlier run:", removed)
	}
	root, err := mesh.RepoRoot()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "nsmb-bin-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	fmt.Println("building the binaries and nsmload ...")
	bin, err := mesh.Build(ctx, root, dir)
	if err != nil {
		return err
	}
	load := filepath.Join(dir, "nsmload")
	build := exec.CommandContext(ctx, mesh.GoCommand(), "build", "-o", load, "./cmd/nsmload")
	build.Dir = filepath.Join(root, "test")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build nsmload: %w\n%s", err, out)
	}

	m, err := mesh.Start(ctx, mesh.Config{
		Bin:          bin,
		Prefix:       mesh.NewPrefix(prefixRoot),
		Dir:          o.logs,
		NsmgrEnv:     []string{"NSM_PPROF_ENABLED=true", "NSM_PPROF_LISTEN_ON=127.0.0.1:6060"},
		ForwarderEnv: []string{"NSM_PPROF_ENABLED=true", "NSM_PPROF_LISTEN_ON=127.0.0.1:6061"},
	})
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			fmt.Fprintf(os.Stderr, "logs:\n%s", m.Logs(30))
		}
		if cerr := m.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()
	b := &bench{o: o, m: m, load: load}
	if err := b.setup(ctx); err != nil {
		return err
	}
	fmt.Printf("\nmesh: %s; nodes joined by a veth underlay; endpoint \"local\" on node 1, \"remote\" on node 2; clients on node 1\n", m.Prefix)
	if !o.skipLatency {
		if err := b.latency(ctx); err != nil {
			return err
		}
	}
	if !o.skipIperf {
		if err := b.throughput(ctx); err != nil {
			return err
		}
	}
	if !o.skipMemory {
		if err := b.memory(ctx); err != nil {
			return err
		}
	}
	fmt.Println("\ngoals:")
	for _, g := range b.goals {
		fmt.Println("  " + g)
	}
	if len(b.findings) > 0 {
		fmt.Println("\nfindings:")
		for _, f := range b.findings {
			fmt.Println("  " + f)
		}
		return errors.New("interfaces were left behind (see findings)")
	}
	return nil
}

type bench struct {
	o    options
	m    *mesh.Mesh
	load string
	// workload namespaces: the clients', and the endpoints' per path.
	client   *mesh.NetNS
	nse      map[string]*mesh.NetNS
	goals    []string
	findings []string
}

var paths = []struct{ name, cidr, kind string }{
	{"local", "10.101.0.0/16", "veth"},
	{"remote", "10.102.0.0/16", "vxlan"},
}

func (b *bench) setup(ctx context.Context) error {
	var err error
	if b.client, err = b.m.NetNS(ctx, "client"); err != nil {
		return err
	}
	b.nse = map[string]*mesh.NetNS{}
	for i, p := range paths {
		ns, err := b.m.NetNS(ctx, "nse-"+p.name)
		if err != nil {
			return err
		}
		b.nse[p.name] = ns
		if _, err := b.m.StartNSE(ctx, b.m.Nodes[i], ns, "nse-"+p.name,
			"NSM_SERVICE_NAMES="+p.name, "NSM_CIDR_PREFIX="+p.cidr); err != nil {
			return err
		}
	}
	return nil
}

// nsmload runs the load client in the client namespace.
func (b *bench) nsmload(ctx context.Context, args ...string) ([]byte, error) {
	full := append([]string{"netns", "exec", b.client.Name, b.load, "-connect", b.m.Nodes[0].NsmgrURL}, args...)
	cmd := exec.CommandContext(ctx, "ip", full...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("nsmload %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}

type result struct {
	RequestMS  []float64 `json:"request_ms"`
	CloseMS    []float64 `json:"close_ms"`
	Errors     int       `json:"errors"`
	FirstError string    `json:"first_error"`
	WallMS     float64   `json:"wall_ms"`
}

func percentile(v []float64, p float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return math.NaN()
	}
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[max(i, 0)]
}

func (b *bench) latency(ctx context.Context) error {
	fmt.Println("\nrequest latency (nsmload: sdk client chain, KERNEL mechanism, Request then Close; Request time)")
	fmt.Printf("  %-7s %-26s %8s %8s %8s %8s %10s %6s\n", "path", "load", "p50 ms", "p99 ms", "max ms", "close50", "req/s", "errors")
	goal := map[string]float64{"local": 100, "remote": 200}
	for _, p := range paths {
		// Warm-up: the first connections pay for page faults and dials.
		if _, err := b.nsmload(ctx, "-service", p.name, "-per", "5", "-name", "warm-"+p.name); err != nil {
			return err
		}
		worst := 0.0
		for _, run := range []struct {
			label        string
			workers, per int
			name         string
		}{
			{fmt.Sprintf("%d sequential", b.o.seq), 1, b.o.seq, "seq-" + p.name},
			{fmt.Sprintf("%d clients x %d", b.o.conc, b.o.per), b.o.conc, b.o.per, "conc-" + p.name},
		} {
			out, err := b.nsmload(ctx, "-service", p.name, "-workers", strconv.Itoa(run.workers), "-per", strconv.Itoa(run.per), "-name", run.name)
			if err != nil {
				return err
			}
			var r result
			if err := json.Unmarshal(out, &r); err != nil {
				return fmt.Errorf("nsmload output %q: %w", out, err)
			}
			p99 := percentile(r.RequestMS, 0.99)
			worst = max(worst, p99)
			fmt.Printf("  %-7s %-26s %8.1f %8.1f %8.1f %8.1f %10.1f %6d\n", p.name, run.label,
				percentile(r.RequestMS, 0.5), p99, percentile(r.RequestMS, 1), percentile(r.CloseMS, 0.5),
				float64(len(r.RequestMS))/(r.WallMS/1000), r.Errors)
			if r.Errors > 0 {
				fmt.Printf("          first error: %s\n", r.FirstError)
				worst = math.Inf(1)
			}
			b.waitClean(ctx, p.name+" "+run.label)
		}
		b.goal(worst < goal[p.name], "request p99 %s < %.0f ms: worst p99 %.1f ms", p.name, goal[p.name], worst)
	}
	return nil
}

func (b *bench) goal(met bool, format string, args ...any) {
	verdict := "MET   "
	if !met {
		verdict = "MISSED"
	}
	b.goals = append(b.goals, verdict+" "+fmt.Sprintf(format, args...))
}

// throughput compares iperf3 through each mesh interface with iperf3 over a
// veth pair made directly between the same two namespaces.
func (b *bench) throughput(ctx context.Context) error {
	fmt.Printf("\nthroughput (iperf3 -t %s -O 1, TCP, one stream; %d rounds each, order alternating)\n", b.o.iperfTime, b.o.rounds)
	nsc, err := b.m.StartNSC(ctx, b.m.Nodes[0], b.client, "nsc", []string{"kernel://local/nsm-local", "kernel://remote/nsm-remote"})
	if err != nil {
		return err
	}
	goal := map[string]float64{"local": 0.9, "remote": 0.8}
	fmt.Printf("  %-7s %-34s %-34s %6s\n", "path", "direct veth Gbit/s (each round)", "mesh Gbit/s (each round)", "ratio")
	for i, p := range paths {
		_, prefix, _ := net.ParseCIDR(p.cidr)
		server := b.nse[p.name]
		meshLink, err := mesh.WaitLink(ctx, server, func(l mesh.Link) error {
			if l.AddrIn(prefix) == nil {
				return errors.New("no mesh address")
			}
			return nil
		})
		if err != nil {
			return err
		}
		meshIP := meshLink.AddrIn(prefix)
		// The direct pair: 198.51.100.{4i+1,4i+2}/30.
		a, z := fmt.Sprintf("198.51.100.%d", 4*i+1), fmt.Sprintf("198.51.100.%d", 4*i+2)
		ifA, ifZ := "direct"+strconv.Itoa(i), "direct"+strconv.Itoa(i)
		if err := ipCmd(ctx, "link", "add", ifA, "netns", b.client.Name, "type", "veth", "peer", "name", ifZ, "netns", server.Name); err != nil {
			return err
		}
		b.m.ExpectLink(b.client, ifA)
		b.m.ExpectLink(server, ifZ)
		for _, c := range [][]string{
			{"-n", b.client.Name, "addr", "add", a + "/30", "dev", ifA},
			{"-n", server.Name, "addr", "add", z + "/30", "dev", ifZ},
			{"-n", b.client.Name, "link", "set", ifA, "up"},
			{"-n", server.Name, "link", "set", ifZ, "up"},
		} {
			if err := ipCmd(ctx, c...); err != nil {
				return err
			}
		}
		srv, err := b.m.Start("iperf3-"+p.name, server, nil, "iperf3", "-s", "-p", "5201")
		if err != nil {
			return err
		}
		if err := mesh.WaitTCP(ctx, server, net.JoinHostPort(z, "5201")); err != nil {
			return fmt.Errorf("%w\n%s", err, srv.Tail(10))
		}
		// Alternate the order (direct, mesh, mesh, direct, ...) so that a
		// drift of the machine's speed during the run does not favour one.
		var direct, through []float64
		for r := range b.o.rounds {
			order := []net.IP{net.ParseIP(z), meshIP}
			if r%2 == 1 {
				order[0], order[1] = order[1], order[0]
			}
			for _, dst := range order {
				rate, err := b.iperf(ctx, dst)
				if err != nil {
					return err
				}
				if dst.Equal(meshIP) {
					through = append(through, rate)
				} else {
					direct = append(direct, rate)
				}
			}
		}
		ratio := mean(through) / mean(direct)
		fmt.Printf("  %-7s %-34s %-34s %6.2f\n", p.name, gbits(direct), gbits(through), ratio)
		fmt.Printf("          mesh interface %s (%s, MTU %d) vs direct veth (MTU 1500)\n", meshLink.Name, meshLink.Kind, meshLink.MTU)
		b.goal(ratio >= goal[p.name], "throughput %s mesh/direct >= %.1f: %.2f", p.name, goal[p.name], ratio)
		_ = srv.Stop(5 * time.Second)
		if err := ipCmd(ctx, "-n", b.client.Name, "link", "del", ifA); err != nil {
			return err
		}
	}
	if err := nsc.Stop(10 * time.Second); err != nil {
		return err
	}
	b.waitClean(ctx, "throughput")
	return nil
}

// waitClean waits up to a minute for every interface of the mesh to be
// gone, and records a finding when some stay.
func (b *bench) waitClean(ctx context.Context, after string) {
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := b.m.WaitClean(wctx); err != nil {
		left, _ := b.m.Leftovers()
		n := 0
		for _, l := range left {
			n += len(l)
		}
		fmt.Printf("  !! after %s: %d interfaces left a minute after every Close returned: %v\n", after, n, left)
		b.findings = append(b.findings, fmt.Sprintf("%s: %d interfaces left after Close", after, n))
	}
}

func ipCmd(ctx context.Context, args ...string) error {
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// iperf runs one iperf3 client from the client namespace to dst and
// returns the received rate in bit/s.
func (b *bench) iperf(ctx context.Context, dst net.IP) (float64, error) {
	secs := strconv.Itoa(int(b.o.iperfTime.Seconds()))
	out, err := exec.CommandContext(ctx, "ip", "netns", "exec", b.client.Name,
		"iperf3", "-c", dst.String(), "-p", "5201", "-t", secs, "-O", "1", "-J").Output()
	if err != nil {
		return 0, fmt.Errorf("iperf3 -c %s: %w: %s", dst, err, out)
	}
	var r struct {
		End struct {
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		} `json:"end"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return 0, fmt.Errorf("iperf3 output: %w", err)
	}
	if r.Error != "" {
		return 0, fmt.Errorf("iperf3 -c %s: %s", dst, r.Error)
	}
	return r.End.SumReceived.BitsPerSecond, nil
}

func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

func gbits(v []float64) string {
	var parts []string
	for _, x := range v {
		parts = append(parts, fmt.Sprintf("%.2f", x/1e9))
	}
	return fmt.Sprintf("%.2f (%s)", mean(v)/1e9, strings.Join(parts, " "))
}

// memory measures the nsmgrs and forwarders idle, with b.o.hold remote
// connections held, and after closing them.
func (b *bench) memory(ctx context.Context) error {
	fmt.Printf("\nmemory and goroutines (VmRSS from /proc/<pid>/status, goroutines from pprof), %d remote connections\n", b.o.hold)
	fmt.Printf("  %-26s %-22s %-22s %-22s %-22s\n", "state", "nsmgr1 (client node)", "forwarder1", "nsmgr2 (endpoint node)", "forwarder2")
	if err := b.sample(ctx, "0 connections"); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", b.client.Name, b.load, "-connect", b.m.Nodes[0].NsmgrURL,
		"-mode", "hold", "-service", "remote", "-conns", strconv.Itoa(b.o.hold), "-workers", "20", "-name", "hold")
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() {
		_ = cmd.Wait()
		return errors.New("nsmload hold: no ready line")
	}
	ready := lines.Text()
	links, err := b.client.Links()
	if err != nil {
		return err
	}
	if err := b.sample(ctx, fmt.Sprintf("%d connections", len(links)-1)); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return err
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	var closed string
	if lines.Scan() {
		closed = lines.Text()
	}
	_, _ = io.Copy(io.Discard, stdout)
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("nsmload hold: %w", err)
	}
	b.waitClean(ctx, fmt.Sprintf("closing %d connections", b.o.hold))
	if err := b.sample(ctx, "after closing them"); err != nil {
		return err
	}
	fmt.Printf("  nsmload: %s; %s\n", ready, closed)
	return nil
}

// sample prints VmRSS and goroutines of the four control-plane processes.
func (b *bench) sample(ctx context.Context, state string) error {
	var cells []string
	for _, n := range b.m.Nodes {
		for _, pp := range []struct {
			p    *mesh.Proc
			port int
		}{{n.Nsmgr, 6060}, {n.Forwarder, 6061}} {
			rss, err := vmRSS(pp.p.Pid())
			if err != nil {
				return err
			}
			g, err := goroutines(ctx, n.NetNS, pp.port)
			if err != nil {
				return err
			}
			cells = append(cells, fmt.Sprintf("%5.1f MiB %5d gor.", float64(rss)/1024, g))
		}
	}
	fmt.Printf("  %-26s %-22s %-22s %-22s %-22s\n", state, cells[0], cells[1], cells[2], cells[3])
	return nil
}

// vmRSS returns the resident set of pid in KiB.
func vmRSS(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}

var goroutineTotal = regexp.MustCompile(`^goroutine profile: total (\d+)`)

// goroutines reads the goroutine count from the pprof server of a process
// in namespace ns.
func goroutines(ctx context.Context, ns *mesh.NetNS, port int) (int, error) {
	tr := &http.Transport{DisableKeepAlives: true, DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := ns.Do(func() (err error) {
			var d net.Dialer
			c, err = d.DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/goroutine?debug=1", port), nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	line, _ := bufio.NewReader(resp.Body).ReadString('\n')
	m := goroutineTotal.FindStringSubmatch(line)
	if m == nil {
		return 0, fmt.Errorf("pprof in %s:%d: %q", ns.Name, port, line)
	}
	return strconv.Atoi(m[1])
}
