// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package spire

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/nsmesh/nsmesh/test/internal/mesh"
)

// Binaries are the paths of the two SPIRE programs.
type Binaries struct {
	Server, Agent string
}

// BinariesIn returns the binaries as `make spire` names them in dir.
func BinariesIn(dir string) Binaries {
	return Binaries{Server: filepath.Join(dir, "spire-server"), Agent: filepath.Join(dir, "spire-agent")}
}

// Build runs `make spire` in the repository at root (which builds only
// when the binaries are older than tools/spire/go.mod or go.sum), copying
// its output to log as it comes, and returns the binaries in root/.bin.
// Ending ctx stops the whole build (make and the go commands under it);
// Go's build cache keeps what was compiled for the next attempt.
func Build(ctx context.Context, root string, log io.Writer) (Binaries, error) {
	makeCmd, err := exec.LookPath("make")
	if err != nil {
		return Binaries{}, errors.New("spire: building SPIRE needs make (or set NSM_SPIRE_BIN to a directory with spire-server and spire-agent)")
	}
	cmd := exec.CommandContext(ctx, makeCmd, "-C", root, "spire")
	// An outer make's jobserver descriptors are not inherited here.
	cmd.Env = append(os.Environ(), "MAKEFLAGS=", "MFLAGS=")
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return Binaries{}, fmt.Errorf("spire: make spire: %w", context.Cause(ctx))
		}
		return Binaries{}, fmt.Errorf("spire: make spire: %w", err)
	}
	return BinariesIn(filepath.Join(root, ".bin")), nil
}

// Config describes a SPIRE deployment.
type Config struct {
	Bin Binaries
	// Dir holds configuration, data, sockets and logs; empty: a new
	// temporary directory, removed by Close.
	Dir string
	// TrustDomain, e.g. nsmesh.test.
	TrustDomain string
	// X509SVIDTTL is the lifetime of the workloads' X.509-SVIDs (the
	// server's default_x509_svid_ttl); the agent rotates them at half of
	// it. Default 30s.
	X509SVIDTTL time.Duration
	// SyncInterval is how often the agent syncs with the server and the
	// server reloads its entry cache (their experimental sync_interval and
	// cache_reload_interval): new entries and rotations are seen about that
	// late at most. Default SPIRE's, 5s.
	SyncInterval time.Duration
	// LogLevel of both (debug, info, warn, error); default info.
	LogLevel string
	// StopGrace is how long a process gets after SIGTERM; default 10s.
	StopGrace time.Duration
	// Entries are registered before the agent starts, so that its first
	// sync brings their SVIDs (later ones wait for a sync).
	Entries []Entry
}

// Entry is a workload entry of the agent: processes matching every
// selector (e.g. "unix:path:/usr/bin/cmd-nsmgr") get an SVID for SPIFFEID.
type Entry struct {
	SPIFFEID  string
	Selectors []string
}

// SPIRE is a running server and agent; Close takes them down.
type SPIRE struct {
	Config
	Server, Agent *mesh.Proc
	// AgentID is the agent's SPIFFE ID, the parent of workload entries.
	AgentID string

	ownDir       bool
	serverSocket string
	agentSocket  string
}

// Start starts the server, generates a join token, starts the agent with
// it and waits until both answer their health checks. On failure it takes
// down what it started and returns an error with the logs' tails.
func Start(ctx context.Context, cfg Config) (*SPIRE, error) {
	if cfg.TrustDomain == "" {
		return nil, errors.New("spire: Config.TrustDomain is empty")
	}
	if cfg.X509SVIDTTL == 0 {
		cfg.X509SVIDTTL = 30 * time.Second
	}
	if cfg.LogLevel == "" {
		cfg.LogLevel = "info"
	}
	if cfg.StopGrace == 0 {
		cfg.StopGrace = 10 * time.Second
	}
	s := &SPIRE{Config: cfg}
	if s.Dir == "" {
		dir, err := os.MkdirTemp("", "nsms-spire-")
		if err != nil {
			return nil, fmt.Errorf("spire: %w", err)
		}
		s.Dir, s.ownDir = dir, true
	}
	s.serverSocket = filepath.Join(s.Dir, "server.sock")
	s.agentSocket = filepath.Join(s.Dir, "agent.sock")
	if err := s.start(ctx); err != nil {
		err = fmt.Errorf("%w\n%s", err, s.Logs(40))
		return nil, errors.Join(err, s.Close())
	}
	return s, nil
}

// tokenLine is the line of `spire-server token generate` with the token.
var tokenLine = regexp.MustCompile(`(?m)^Token: (\S+)$`)

func (s *SPIRE) start(ctx context.Context) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	serverConf := filepath.Join(s.Dir, "server.conf")
	if err := os.WriteFile(serverConf, []byte(s.serverConfig(port)), 0o600); err != nil {
		return fmt.Errorf("spire: %w", err)
	}
	if s.Server, err = mesh.StartProc("spire-server", nil, filepath.Join(s.Dir, "spire-server.log"), nil,
		s.Bin.Server, "run", "-config", serverConf); err != nil {
		return err
	}
	if err := s.waitHealthy(ctx, s.Server, s.Bin.Server, s.serverSocket); err != nil {
		return err
	}
	bundle, err := s.serverCLI(ctx, "bundle", "show", "-format", "pem")
	if err != nil {
		return err
	}
	bundleFile := filepath.Join(s.Dir, "bundle.pem")
	if err := os.WriteFile(bundleFile, []byte(bundle), 0o600); err != nil {
		return fmt.Errorf("spire: %w", err)
	}
	out, err := s.serverCLI(ctx, "token", "generate", "-ttl", "600")
	if err != nil {
		return err
	}
	// It prints "Token: <token>" and a warning that the token has no
	// SPIFFE ID of its own (the agent's is derived from the token).
	found := tokenLine.FindStringSubmatch(out)
	if found == nil {
		return fmt.Errorf("spire: token generate printed %q, want a line \"Token: <token>\"", out)
	}
	token := found[1]
	s.AgentID = fmt.Sprintf("spiffe://%s/spire/agent/join_token/%s", s.TrustDomain, token)
	for _, e := range s.Entries {
		if err := s.CreateEntry(ctx, e); err != nil {
			return err
		}
	}
	agentConf := filepath.Join(s.Dir, "agent.conf")
	if err := os.WriteFile(agentConf, []byte(s.agentConfig(port, bundleFile, token)), 0o600); err != nil {
		return fmt.Errorf("spire: %w", err)
	}
	if s.Agent, err = mesh.StartProc("spire-agent", nil, filepath.Join(s.Dir, "spire-agent.log"), nil,
		s.Bin.Agent, "run", "-config", agentConf); err != nil {
		return err
	}
	return s.waitHealthy(ctx, s.Agent, s.Bin.Agent, s.agentSocket)
}

// hcl quotes s as an HCL string (a subset of Go's quoting rules for the
// paths and names used here).
func hcl(s string) string { return fmt.Sprintf("%q", s) }

func (s *SPIRE) serverConfig(port int) string {
	return fmt.Sprintf(`server {
  bind_address = "127.0.0.1"
  bind_port = "%d"
  socket_path = %s
  trust_domain = %s
  data_dir = %s
  log_level = %s
  ca_key_type = "ec-p256"
  ca_ttl = "24h"
  agent_ttl = "1h"
  default_x509_svid_ttl = %s
%s}

plugins {
  DataStore "sql" {
    plugin_data {
      database_type = "sqlite3"
      connection_string = %s
    }
  }
  NodeAttestor "join_token" {
    plugin_data {}
  }
  KeyManager "memory" {
    plugin_data {}
  }
}
`, port, hcl(s.serverSocket), hcl(s.TrustDomain), hcl(filepath.Join(s.Dir, "server-data")), hcl(s.LogLevel),
		hcl(s.X509SVIDTTL.String()), s.experimental("cache_reload_interval"), hcl(filepath.Join(s.Dir, "server-data", "datastore.sqlite3")))
}

// experimental is the experimental block setting key to SyncInterval, if
// set.
func (s *SPIRE) experimental(key string) string {
	if s.SyncInterval <= 0 {
		return ""
	}
	return fmt.Sprintf("  experimental {\n    %s = %s\n  }\n", key, hcl(s.SyncInterval.String()))
}

func (s *SPIRE) agentConfig(port int, bundleFile, token string) string {
	return fmt.Sprintf(`agent {
  server_address = "127.0.0.1"
  server_port = "%d"
  socket_path = %s
  trust_domain = %s
  trust_bundle_path = %s
  join_token = %s
  data_dir = %s
  log_level = %s
%s}

plugins {
  NodeAttestor "join_token" {
    plugin_data {}
  }
  KeyManager "memory" {
    plugin_data {}
  }
  WorkloadAttestor "unix" {
    plugin_data {
      discover_workload_path = true
    }
  }
}
`, port, hcl(s.agentSocket), hcl(s.TrustDomain), hcl(bundleFile), hcl(token), hcl(filepath.Join(s.Dir, "agent-data")), hcl(s.LogLevel), s.experimental("sync_interval"))
}

// freePort returns a TCP port on loopback that nothing listens on now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("spire: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitHealthy polls `<bin> healthcheck` on socket until it passes, failing
// early when the process exits.
func (s *SPIRE) waitHealthy(ctx context.Context, p *mesh.Proc, bin, socket string) error {
	return mesh.Poll(ctx, 100*time.Millisecond, func() error {
		if exited, err := p.Exited(); exited {
			return mesh.Permanent(fmt.Errorf("spire: %s exited (%v) before it was healthy", p.Name, err))
		}
		out, err := exec.CommandContext(ctx, bin, "healthcheck", "-socketPath", socket).CombinedOutput()
		if err != nil {
			return fmt.Errorf("spire: %s is not healthy yet: %w: %s", p.Name, err, bytes.TrimSpace(out))
		}
		return nil
	})
}

// serverCLI runs a spire-server command against the server's socket and
// returns its standard output.
func (s *SPIRE) serverCLI(ctx context.Context, args ...string) (string, error) {
	args = append(args, "-socketPath", s.serverSocket)
	cmd := exec.CommandContext(ctx, s.Bin.Server, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("spire: spire-server %s: %w: %s%s", strings.Join(args, " "), err, bytes.TrimSpace(out), bytes.TrimSpace(stderr.Bytes()))
	}
	return string(out), nil
}

// WorkloadAPI is the agent's Workload API address, the value of
// SPIFFE_ENDPOINT_SOCKET.
func (s *SPIRE) WorkloadAPI() string { return "unix://" + s.agentSocket }

// CreateEntry registers a workload entry parented to the agent. The agent
// learns of it at its next sync (every 5s at most).
func (s *SPIRE) CreateEntry(ctx context.Context, e Entry) error {
	if len(e.Selectors) == 0 {
		return fmt.Errorf("spire: entry %s: no selector", e.SPIFFEID)
	}
	args := []string{"entry", "create", "-parentID", s.AgentID, "-spiffeID", e.SPIFFEID}
	for _, sel := range e.Selectors {
		args = append(args, "-selector", sel)
	}
	_, err := s.serverCLI(ctx, args...)
	return err
}

// Logs returns the last n lines of the server's and the agent's logs.
func (s *SPIRE) Logs(n int) string {
	var sb strings.Builder
	for _, p := range []*mesh.Proc{s.Server, s.Agent} {
		if p != nil {
			fmt.Fprintf(&sb, "----- %s (%s)\n%s", p.Name, p.LogPath, p.Tail(n))
		}
	}
	return sb.String()
}

// Close stops the agent, then the server, and removes the directory it
// created.
func (s *SPIRE) Close() error {
	var errs []error
	for _, p := range []*mesh.Proc{s.Agent, s.Server} {
		if p == nil {
			continue
		}
		if err := p.Stop(s.StopGrace); err != nil {
			// Exit statuses after SIGTERM are not failures; a hang is.
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				errs = append(errs, err)
			}
		}
	}
	if s.ownDir {
		if err := os.RemoveAll(s.Dir); err != nil {
			errs = append(errs, fmt.Errorf("spire: %w", err))
		}
	}
	return errors.Join(errs...)
}
