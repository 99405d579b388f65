// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package mesh

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Proc is a process of the mesh: a binary started in a namespace with
// `ip netns exec`, which execs it, so the process id is the binary's.
type Proc struct {
	Name    string
	LogPath string
	NetNS   *NetNS
	Env     []string

	role    string
	cmd     *exec.Cmd
	done    chan struct{}
	mu      sync.Mutex
	waitErr error
}

// StartProc starts bin with args in ns (the host namespace when ns is nil)
// with env added to a minimal environment, writing its output to logPath.
func StartProc(name string, ns *NetNS, logPath string, env []string, bin string, args ...string) (*Proc, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("mesh: %s: %w", name, err)
	}
	defer logFile.Close()
	var cmd *exec.Cmd
	if ns != nil {
		cmd = exec.Command("ip", append([]string{"netns", "exec", ns.Name, bin}, args...)...)
	} else {
		cmd = exec.Command(bin, args...)
	}
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// If the test process dies, its processes die with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("mesh: start %s: %w", name, err)
	}
	p := &Proc{Name: name, LogPath: logPath, NetNS: ns, Env: env, cmd: cmd, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.waitErr = err
		p.mu.Unlock()
		close(p.done)
	}()
	return p, nil
}

// Pid is the process id of the binary.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited, and how.
func (p *Proc) Exited() (bool, error) {
	select {
	case <-p.done:
		p.mu.Lock()
		defer p.mu.Unlock()
		return true, p.waitErr
	default:
		return false, nil
	}
}

// Signal sends sig to the process unless it has exited.
func (p *Proc) Signal(sig syscall.Signal) {
	if exited, _ := p.Exited(); !exited {
		_ = p.cmd.Process.Signal(sig)
	}
}

// Stop sends SIGTERM, waits up to grace, then SIGKILLs, and waits for the
// exit. It returns the process's exit error (nil for exit status 0).
func (p *Proc) Stop(grace time.Duration) error {
	p.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		p.Signal(syscall.SIGKILL)
		<-p.done
		return fmt.Errorf("mesh: %s did not stop within %s after SIGTERM", p.Name, grace)
	}
	_, err := p.Exited()
	return err
}

// Kill sends SIGKILL and waits for the exit.
func (p *Proc) Kill() {
	p.Signal(syscall.SIGKILL)
	<-p.done
}

// Log returns the process's output so far.
func (p *Proc) Log() string {
	b, _ := os.ReadFile(p.LogPath)
	return string(b)
}

// WaitLog waits until the log holds count lines matching re. It fails
// early, with the log's tail, when the process exits first.
func (p *Proc) WaitLog(ctx context.Context, re *regexp.Regexp, count int) error {
	return Poll(ctx, 20*time.Millisecond, func() error {
		b, _ := os.ReadFile(p.LogPath)
		n := len(re.FindAll(b, -1))
		if n >= count {
			return nil
		}
		if exited, err := p.Exited(); exited {
			return Permanent(fmt.Errorf("mesh: %s exited (%v) before logging %q (%d of %d); log:\n%s", p.Name, err, re, n, count, tail(b, 30)))
		}
		return fmt.Errorf("mesh: %s has not logged %q (%d of %d) yet; log:\n%s", p.Name, re, n, count, tail(b, 30))
	})
}

// tail returns the last n lines of b.
func tail(b []byte, n int) string {
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = append([][]byte{[]byte(fmt.Sprintf("... (%d lines before)", len(lines)-n))}, lines[len(lines)-n:]...)
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// Tail returns the last n lines of the process's log, each prefixed with
// its name.
func (p *Proc) Tail(n int) string {
	b, _ := os.ReadFile(p.LogPath)
	var sb strings.Builder
	for _, l := range strings.Split(tail(b, n), "\n") {
		sb.WriteString(p.Name + "| " + l + "\n")
	}
	return sb.String()
}
