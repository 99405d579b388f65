// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package mesh

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// Binaries are the paths of the nsmesh programs.
type Binaries struct {
	Registry, Nsmgr, Forwarder, NSE, NSC string
	// NSMCtl makes the SVIDs of a mesh with Config.MTLS.
	NSMCtl string
}

// commands are the cmd-* module directories, in the order of Binaries.
var commands = []string{"cmd-registry", "cmd-nsmgr", "cmd-forwarder-kernel", "cmd-nse-icmp", "cmd-nsc", "cmd-nsmctl"}

// BinariesIn returns the binaries as `go build -o dir/` names them.
func BinariesIn(dir string) Binaries {
	p := func(i int) string { return filepath.Join(dir, commands[i]) }
	return Binaries{Registry: p(0), Nsmgr: p(1), Forwarder: p(2), NSE: p(3), NSC: p(4), NSMCtl: p(5)}
}

// RepoRoot returns the directory holding go.work, from the working
// directory up.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("mesh: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("mesh: no go.work above the working directory")
		}
		dir = parent
	}
}

// GoCommand is the go binary: the one on PATH, else the default install.
func GoCommand() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "/usr/local/go/bin/go"
}

// Build builds the five binaries of the repository at root into dir.
func Build(ctx context.Context, root, dir string) (Binaries, error) {
	args := []string{"build", "-o", dir + "/"}
	for _, c := range commands {
		args = append(args, "./"+c)
	}
	cmd := exec.CommandContext(ctx, GoCommand(), args...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return Binaries{}, fmt.Errorf("mesh: go %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return BinariesIn(dir), nil
}

// NewPrefix returns a fresh name prefix "<root><pid>-<random>" that
// RemoveStale(root) recognises once this process is gone.
func NewPrefix(root string) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return fmt.Sprintf("%s%d-%s", root, os.Getpid(), b)
}

// Config describes a mesh.
type Config struct {
	Bin Binaries
	// Prefix names the namespaces and forwarders (see NewPrefix).
	Prefix string
	// Dir holds sockets and logs; empty: a new temporary directory, removed
	// by Close.
	Dir string
	// Env is added to every process's environment (e.g. NSM_LOG_LEVEL).
	Env []string
	// ForwarderEnv is added to the forwarders' (e.g. NSM_ADOPTION_GRACE).
	ForwarderEnv []string
	// NsmgrEnv is added to the nsmgrs'.
	NsmgrEnv []string
	// RegistryEnv is added to the registry's.
	RegistryEnv []string
	// Pprof serves net/http/pprof in every nsmgr (NsmgrPprof) and forwarder
	// (ForwarderPprof), for Goroutines.
	Pprof bool
	// StopGrace is how long a process gets after SIGTERM; default 10s.
	StopGrace time.Duration
	// MTLS gives every process an X.509-SVID of a development CA made with
	// `nsmctl devca` (spiffe://nsmesh.local/<kind>/<NSM_NAME>) instead of
	// the plaintext development mode (NSM_INSECURE=true).
	MTLS bool
}

// Underlay is the interface name of the underlay in each node namespace.
const Underlay = "ul0"

// Node is a network namespace with an nsmgr and a kernel forwarder.
type Node struct {
	Index         int // 1 or 2
	NetNS         *NetNS
	IP            string // underlay address
	NsmgrURL      string // unix:// socket of the nsmgr
	ForwarderName string
	ForwarderURL  string
	Nsmgr         *Proc
	Forwarder     *Proc
}

// Mesh is a running two-node mesh; Close takes it down.
type Mesh struct {
	Config
	Nodes    []*Node
	Registry *Proc

	ownDir bool
	mu     sync.Mutex
	procs  []*Proc
	spaces []*NetNS
	// extra are links created outside the mesh that Leftovers expects, by
	// namespace name.
	extra map[string][]string
}

// Ready patterns of the binaries' logs.
var (
	readyRegistry  = regexp.MustCompile(`listening on`)
	readyNsmgr     = regexp.MustCompile(`msg=serving`)
	readyForwarder = regexp.MustCompile(`msg=registered`)
	readyNSE       = regexp.MustCompile(`msg=registered`)
	connectedNSC   = regexp.MustCompile(`msg="connected to `)
)

// RegistryURL is where the registry listens (in node 1's namespace).
const RegistryURL = "tcp://192.0.2.1:5002"

// Start creates the namespaces and the underlay and starts the registry and
// both nodes, waiting until the forwarders have registered. On failure it
// takes down what it started and returns an error with the logs' tails.
func Start(ctx context.Context, cfg Config) (*Mesh, error) {
	if cfg.StopGrace == 0 {
		cfg.StopGrace = 10 * time.Second
	}
	m := &Mesh{Config: cfg, extra: map[string][]string{}}
	if m.Dir == "" {
		dir, err := os.MkdirTemp("", "nsme-")
		if err != nil {
			return nil, fmt.Errorf("mesh: %w", err)
		}
		m.Dir, m.ownDir = dir, true
	}
	if err := m.start(ctx); err != nil {
		err = fmt.Errorf("%w\n%s", err, m.Logs(40))
		return nil, errors.Join(err, m.Close())
	}
	return m, nil
}

func (m *Mesh) start(ctx context.Context) error {
	for i := 1; i <= 2; i++ {
		ns, err := m.NetNS(ctx, fmt.Sprintf("n%d", i))
		if err != nil {
			return err
		}
		m.Nodes = append(m.Nodes, &Node{
			Index:         i,
			NetNS:         ns,
			IP:            fmt.Sprintf("192.0.2.%d", i),
			NsmgrURL:      "unix://" + filepath.Join(m.Dir, fmt.Sprintf("nsmgr%d.sock", i)),
			ForwarderName: fmt.Sprintf("%s-fwd%d", m.Prefix, i),
			ForwarderURL:  "unix://" + filepath.Join(m.Dir, fmt.Sprintf("fwd%d.sock", i)),
		})
	}
	n1, n2 := m.Nodes[0].NetNS.Name, m.Nodes[1].NetNS.Name
	if err := ip(ctx, "link", "add", Underlay, "netns", n1, "type", "veth", "peer", "name", Underlay, "netns", n2); err != nil {
		return err
	}
	for _, n := range m.Nodes {
		if err := ip(ctx, "-n", n.NetNS.Name, "addr", "add", n.IP+"/24", "dev", Underlay); err != nil {
			return err
		}
		if err := ip(ctx, "-n", n.NetNS.Name, "link", "set", Underlay, "up"); err != nil {
			return err
		}
	}
	reg, err := m.startRegistry()
	if err != nil {
		return err
	}
	m.Registry = reg
	for _, n := range m.Nodes {
		if n.Nsmgr, err = m.startNsmgr(n); err != nil {
			return err
		}
		if n.Forwarder, err = m.startForwarder(n); err != nil {
			return err
		}
	}
	if err := reg.WaitLog(ctx, readyRegistry, 1); err != nil {
		return err
	}
	for _, n := range m.Nodes {
		if err := n.Nsmgr.WaitLog(ctx, readyNsmgr, 1); err != nil {
			return err
		}
		if err := n.Forwarder.WaitLog(ctx, readyForwarder, 1); err != nil {
			return err
		}
	}
	return nil
}

func (m *Mesh) startRegistry() (*Proc, error) {
	env := append([]string{"NSM_LISTEN_ON=" + RegistryURL}, m.RegistryEnv...)
	return m.startRole(roleInfra, "registry", "registry", m.Nodes[0].NetNS, env, m.Bin.Registry)
}

func (m *Mesh) startNsmgr(n *Node) (*Proc, error) {
	env := append([]string{
		"NSM_NAME=" + fmt.Sprintf("nsmgr%d", n.Index),
		"NSM_LISTEN_ON=" + n.NsmgrURL + ",tcp://" + n.IP + ":5001",
		"NSM_REGISTRY_URL=" + RegistryURL,
	}, m.NsmgrEnv...)
	if m.Pprof {
		env = append(env, "NSM_PPROF_ENABLED=true", "NSM_PPROF_LISTEN_ON="+NsmgrPprof)
	}
	return m.startRole(roleInfra, "nsmgr", fmt.Sprintf("nsmgr%d", n.Index), n.NetNS, env, m.Bin.Nsmgr)
}

func (m *Mesh) startForwarder(n *Node) (*Proc, error) {
	env := append([]string{
		"NSM_NAME=" + n.ForwarderName,
		"NSM_LISTEN_ON=" + n.ForwarderURL,
		"NSM_CONNECT_TO=" + n.NsmgrURL,
		"NSM_TUNNEL_IP=" + n.IP,
		// Pins of the workloads' namespaces stay in the mesh's directory.
		"NSM_STATE_DIR=" + filepath.Join(m.Dir, "state"),
	}, m.ForwarderEnv...)
	if m.Pprof {
		env = append(env, "NSM_PPROF_ENABLED=true", "NSM_PPROF_LISTEN_ON="+ForwarderPprof)
	}
	return m.startRole(roleInfra, "forwarder", fmt.Sprintf("fwd%d", n.Index), n.NetNS, env, m.Bin.Forwarder)
}

// RestartForwarder stops the node's forwarder unless it has exited already
// (SIGKILL when kill, else SIGTERM), starts it again with the same name and
// socket and waits until it has registered. Its log goes on in the same
// file.
func (m *Mesh) RestartForwarder(ctx context.Context, n *Node, kill bool) error {
	return m.restart(ctx, &n.Forwarder, kill, readyForwarder, func() (*Proc, error) { return m.startForwarder(n) })
}

// RestartNsmgr does for the node's nsmgr what RestartForwarder does for its
// forwarder; it waits until the new nsmgr serves.
func (m *Mesh) RestartNsmgr(ctx context.Context, n *Node, kill bool) error {
	return m.restart(ctx, &n.Nsmgr, kill, readyNsmgr, func() (*Proc, error) { return m.startNsmgr(n) })
}

// RestartRegistry does the same for the registry, which starts empty; it
// waits until the new registry listens.
func (m *Mesh) RestartRegistry(ctx context.Context, kill bool) error {
	return m.restart(ctx, &m.Registry, kill, readyRegistry, m.startRegistry)
}

// restart stops *p (unless it exited), starts it again with start, stores
// the new process in *p and waits for one more line matching ready.
func (m *Mesh) restart(ctx context.Context, p **Proc, kill bool, ready *regexp.Regexp, start func() (*Proc, error)) error {
	old := *p
	if exited, _ := old.Exited(); exited {
		// stopped by the caller
	} else if kill {
		old.Kill()
	} else if err := old.Stop(m.StopGrace); err != nil {
		return err
	}
	if f, err := os.OpenFile(old.LogPath, os.O_APPEND|os.O_WRONLY, 0); err == nil {
		_, _ = fmt.Fprintf(f, "===== mesh: restart (killed: %v) =====\n", kill)
		_ = f.Close()
	}
	before := logCount(old.LogPath, ready)
	np, err := start()
	if err != nil {
		return err
	}
	*p = np
	return np.WaitLog(ctx, ready, before+1)
}

// NetNS creates the namespace <prefix>-<role>, deleted by Close.
func (m *Mesh) NetNS(ctx context.Context, role string) (*NetNS, error) {
	ns, err := CreateNetNS(ctx, m.Prefix+"-"+role)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	m.spaces = append(m.spaces, ns)
	m.mu.Unlock()
	return ns, nil
}

// DeleteNetNS deletes a namespace of the mesh before Close, killing what
// runs in it (a workload dying with its pod); Leftovers no longer looks at it.
func (m *Mesh) DeleteNetNS(ctx context.Context, ns *NetNS) error {
	m.mu.Lock()
	m.spaces = slices.DeleteFunc(m.spaces, func(s *NetNS) bool { return s == ns })
	m.mu.Unlock()
	return ns.Delete(ctx)
}

// ExpectLink tells Leftovers that link name in ns is not the mesh's.
func (m *Mesh) ExpectLink(ns *NetNS, name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.extra[ns.Name] = append(m.extra[ns.Name], name)
}

// Roles order the stop in Close.
const (
	roleClient   = "client"
	roleEndpoint = "endpoint"
	roleInfra    = "infra"
)

// Start starts bin with args in ns as process name with env, logging to
// <dir>/<name>.log; Close stops it among the first. It gets no identity.
func (m *Mesh) Start(name string, ns *NetNS, env []string, bin string, args ...string) (*Proc, error) {
	return m.startRole(roleClient, "", name, ns, env, bin, args...)
}

// startRole starts a process of the mesh; kind is its SPIFFE kind
// (registry, nsmgr, forwarder, nse, nsc).
func (m *Mesh) startRole(role, kind, name string, ns *NetNS, env []string, bin string, args ...string) (*Proc, error) {
	full := slices.Clone(m.Env)
	if kind != "" {
		identity, err := m.identity(kind, name, env)
		if err != nil {
			return nil, err
		}
		full = append(identity, full...)
	}
	full = append(full, env...)
	p, err := StartProc(name, ns, filepath.Join(m.Dir, name+".log"), full, bin, args...)
	if err != nil {
		return nil, err
	}
	p.role = role
	m.mu.Lock()
	m.procs = append(m.procs, p)
	m.mu.Unlock()
	return p, nil
}

// identity returns the identity variables of a process: NSM_INSECURE=true,
// or with MTLS an SVID directory issued for spiffe://nsmesh.local/<kind>/
// <its NSM_NAME> (a restart re-issues it).
func (m *Mesh) identity(kind, name string, env []string) ([]string, error) {
	if !m.MTLS {
		return []string{"NSM_INSECURE=true"}, nil
	}
	nsmName := name
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "NSM_NAME="); ok {
			nsmName = v
		}
	}
	ca := filepath.Join(m.Dir, "ca")
	args := []string{"devca", "issue", "--dir", ca, "--name", name,
		"--spiffe-id", "spiffe://nsmesh.local/" + kind + "/" + nsmName}
	if _, err := os.Stat(filepath.Join(ca, "ca.pem")); err != nil {
		// The first process makes the CA (init issues no SVID without
		// --components).
		if out, err := exec.Command(m.Bin.NSMCtl, "devca", "init", "--dir", ca).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("mesh: nsmctl devca init: %w: %s", err, out)
		}
	}
	if out, err := exec.Command(m.Bin.NSMCtl, args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("mesh: nsmctl %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return []string{"NSM_INSECURE=false", "NSM_SVID_DIR=" + filepath.Join(ca, name)}, nil
}

// StartNSE starts an ICMP endpoint named name in ns at node n and waits
// until it has registered. env overrides the defaults (e.g.
// NSM_CIDR_PREFIX, NSM_SERVICE_NAMES).
func (m *Mesh) StartNSE(ctx context.Context, n *Node, ns *NetNS, name string, env ...string) (*Proc, error) {
	full := append([]string{
		"NSM_NAME=" + name,
		"NSM_CONNECT_TO=" + n.NsmgrURL,
		"NSM_LISTEN_ON=unix://" + filepath.Join(m.Dir, name+".sock"),
		"NSM_UNREGISTER_ITSELF=true",
	}, env...)
	before := logCount(filepath.Join(m.Dir, name+".log"), readyNSE)
	p, err := m.startRole(roleEndpoint, "nse", name, ns, full, m.Bin.NSE)
	if err != nil {
		return nil, err
	}
	return p, p.WaitLog(ctx, readyNSE, before+1)
}

// StartNSC starts a client named name in ns at node n for the given
// kernel:// URLs and waits until every one is connected.
func (m *Mesh) StartNSC(ctx context.Context, n *Node, ns *NetNS, name string, urls []string, env ...string) (*Proc, error) {
	full := append([]string{
		"NSM_NAME=" + name,
		"NSM_CONNECT_TO=" + n.NsmgrURL,
		"NSM_NETWORK_SERVICES=" + strings.Join(urls, ","),
	}, env...)
	before := logCount(filepath.Join(m.Dir, name+".log"), connectedNSC)
	p, err := m.startRole(roleClient, "nsc", name, ns, full, m.Bin.NSC)
	if err != nil {
		return nil, err
	}
	return p, p.WaitLog(ctx, connectedNSC, before+len(urls))
}

// logCount counts the lines matching re in the log at path (0 when there
// is none yet): a process started again logs on in the same file.
func logCount(path string, re *regexp.Regexp) int {
	b, _ := os.ReadFile(path)
	return len(re.FindAll(b, -1))
}

// Logs returns the last n lines of every process's log.
func (m *Mesh) Logs(n int) string {
	m.mu.Lock()
	procs := slices.Clone(m.procs)
	m.mu.Unlock()
	var sb strings.Builder
	seen := map[string]bool{}
	for _, p := range procs {
		if seen[p.LogPath] {
			continue
		}
		seen[p.LogPath] = true
		fmt.Fprintf(&sb, "----- %s (%s)\n%s", p.Name, p.LogPath, p.Tail(n))
	}
	return sb.String()
}

// Leftovers lists, per namespace, the interfaces that should not be there
// when no connection is open: anything but lo and the underlay in the
// nodes, anything but lo (and ExpectLink's) in the workloads, and links of
// this mesh's forwarders in the host namespace.
func (m *Mesh) Leftovers() (map[string][]string, error) {
	m.mu.Lock()
	spaces := slices.Clone(m.spaces)
	m.mu.Unlock()
	out := map[string][]string{}
	for _, ns := range spaces {
		names, err := ns.LinkNames()
		if err != nil {
			return nil, err
		}
		allowed := []string{"lo"}
		for _, n := range m.Nodes {
			if n.NetNS == ns {
				allowed = append(allowed, Underlay)
			}
		}
		m.mu.Lock()
		allowed = append(allowed, m.extra[ns.Name]...)
		m.mu.Unlock()
		for _, name := range names {
			if !slices.Contains(allowed, name) {
				out[ns.Name] = append(out[ns.Name], name)
			}
		}
	}
	for _, n := range m.Nodes {
		host, err := HostLinksWithAlias("nsm:" + n.ForwarderName + ":")
		if err != nil {
			return nil, err
		}
		if len(host) > 0 {
			out["host"] = append(out["host"], host...)
		}
	}
	return out, nil
}

// WaitClean waits until Leftovers finds nothing.
func (m *Mesh) WaitClean(ctx context.Context) error {
	return Poll(ctx, 50*time.Millisecond, func() error {
		left, err := m.Leftovers()
		if err != nil {
			return err
		}
		if len(left) > 0 {
			return fmt.Errorf("mesh: interfaces left: %v", left)
		}
		return nil
	})
}

// Close stops the processes (clients first, so that they close their
// connections, then endpoints, then the rest), deletes the namespaces and
// removes the directory it created.
func (m *Mesh) Close() error {
	m.mu.Lock()
	procs := slices.Clone(m.procs)
	spaces := slices.Clone(m.spaces)
	m.mu.Unlock()
	// Clients first, so that they close their connections, then endpoints,
	// then the infrastructure.
	rank := map[string]int{roleClient: 0, roleEndpoint: 1, roleInfra: 2}
	for r := range 3 {
		var wg sync.WaitGroup
		for _, p := range procs {
			if rank[p.role] == r {
				wg.Go(func() { _ = p.Stop(m.StopGrace) })
			}
		}
		wg.Wait()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	for _, ns := range slices.Backward(spaces) {
		if err := ns.Delete(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if m.ownDir {
		if err := os.RemoveAll(m.Dir); err != nil {
			errs = append(errs, fmt.Errorf("mesh: %w", err))
		}
	}
	return errors.Join(errs...)
}
