// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package vppstart

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
)

var (
	// ErrNoBinary is returned by Start when the VPP executable is missing.
	ErrNoBinary = errors.New("vppstart: no VPP executable")
	// ErrSocketInUse is returned by Start when a live process already
	// serves the API socket of the local VPP.
	ErrSocketInUse = errors.New("vppstart: API socket in use")
)

// stopGrace is how long VPP gets to exit after SIGTERM before SIGKILL.
var stopGrace = 5 * time.Second

// VPP is a running local VPP.
type VPP struct {
	params Params
	cmd    *exec.Cmd
	log    logrus.FieldLogger

	done     chan struct{}
	err      error // why VPP exited; set before done is closed
	stopOnce sync.Once
	stopped  chan struct{} // closed when Close or ctx asked VPP to stop
}

// Start writes p's configuration file unless it exists, then runs binary
// (a path, or a name looked up in PATH) with it as a child process. VPP is
// stopped when ctx ends or on Close. Start does not wait for VPP to serve its
// API socket: dial p.APISocket() for that, and watch Done, since VPP may exit
// before it ever serves.
func Start(ctx context.Context, binary string, p Params, log logrus.FieldLogger) (*VPP, error) {
	path, err := exec.LookPath(binary)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoBinary, err)
	}
	if err := writeConfig(p, log); err != nil {
		return nil, err
	}
	for _, f := range []string{p.APISocket(), p.CLISocket(), p.StatsSocket(), p.LogFile()} {
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			return nil, fmt.Errorf("vppstart: %w", err)
		}
	}
	if err := clearSocket(p.APISocket()); err != nil {
		return nil, err
	}
	out := &lineLogger{log: log.WithField("component", "vpp")}
	cmd := exec.Command(path, "-c", p.ConfigFile())
	cmd.Stdout, cmd.Stderr = out, out
	// VPP must not outlive the forwarder, which would then start a second
	// one on the same sockets.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	v := &VPP{params: p, cmd: cmd, log: log, done: make(chan struct{}), stopped: make(chan struct{})}

	started := make(chan error, 1)
	go func() {
		// The parent-death signal follows the thread that forked VPP, not
		// the process: this goroutine keeps its thread until VPP exits.
		// Never unlocked, so the thread ends with the goroutine.
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		werr := cmd.Wait()
		out.flush()
		v.err = fmt.Errorf("vppstart: %s (pid %d) exited: %v", path, cmd.Process.Pid, exitReason(werr))
		close(v.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("vppstart: start %s: %w", path, err)
	}
	log.WithFields(logrus.Fields{"binary": path, "pid": cmd.Process.Pid, "config": p.ConfigFile(), "api_socket": p.APISocket()}).
		Info("local VPP started")
	go func() {
		select {
		case <-ctx.Done():
			v.stop()
		case <-v.done:
		}
	}()
	return v, nil
}

// Done is closed when VPP has exited.
func (v *VPP) Done() <-chan struct{} { return v.done }

// Err says why VPP exited; nil while it runs.
func (v *VPP) Err() error {
	select {
	case <-v.done:
		return v.err
	default:
		return nil
	}
}

// Pid is VPP's process id.
func (v *VPP) Pid() int { return v.cmd.Process.Pid }

// Close stops VPP (SIGTERM, SIGKILL after 5 s) and waits until it has
// exited. It returns nil when VPP exited because of it, and VPP's own exit
// reason when VPP had died before.
func (v *VPP) Close() error {
	select {
	case <-v.done:
		// A stop in flight (ctx ended) finishes first; none starts after.
		v.stopOnce.Do(func() {})
		select {
		case <-v.stopped:
			return nil
		default:
			return v.err
		}
	default:
	}
	v.stop()
	<-v.done
	return nil
}

func (v *VPP) stop() {
	v.stopOnce.Do(func() {
		close(v.stopped)
		_ = v.cmd.Process.Signal(syscall.SIGTERM)
		t := time.NewTimer(stopGrace)
		defer t.Stop()
		select {
		case <-v.done:
			v.log.Info("local VPP stopped")
		case <-t.C:
			v.log.WithField("grace", stopGrace).Warn("local VPP ignored SIGTERM; killing it")
			_ = v.cmd.Process.Kill()
			<-v.done
		}
	})
}

func writeConfig(p Params, log logrus.FieldLogger) error {
	file := p.ConfigFile()
	if _, err := os.Stat(file); err == nil {
		log.WithField("config", file).Info("local VPP: using the existing configuration file")
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("vppstart: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return fmt.Errorf("vppstart: %w", err)
	}
	if err := os.WriteFile(file, Render(p), 0o644); err != nil {
		return fmt.Errorf("vppstart: %w", err)
	}
	return nil
}

// clearSocket removes the API socket a dead VPP left, and refuses to start
// a second VPP on a socket somebody serves.
func clearSocket(path string) error {
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("vppstart: %w", err)
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		_ = c.Close()
		return fmt.Errorf("%w: another process serves %s", ErrSocketInUse, path)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("vppstart: remove the stale socket: %w", err)
	}
	return nil
}

func exitReason(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// lineLogger logs a child's output line by line. exec.Cmd calls Write from
// one goroutine at a time when Stdout and Stderr are the same pointer.
type lineLogger struct {
	log logrus.FieldLogger
	buf []byte
}

// maxLine bounds a line kept while waiting for its newline.
const maxLine = 64 << 10

func (l *lineLogger) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		l.emit(l.buf[:i])
		l.buf = l.buf[i+1:]
	}
	if len(l.buf) > maxLine {
		l.flush()
	}
	return len(p), nil
}

func (l *lineLogger) flush() {
	if len(l.buf) > 0 {
		l.emit(l.buf)
		l.buf = nil
	}
}

func (l *lineLogger) emit(line []byte) {
	if s := string(bytes.TrimRight(line, "\r \t")); s != "" {
		l.log.Info(s)
	}
}
