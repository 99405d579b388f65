// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package wireguard

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/sirupsen/logrus"
	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/tun"

	"github.com/nsmesh/nsmesh/sdk/dataplane/kernel"
)

// tunDevice is the TUN as wireguard-go sees it. wireguard-go asks the
// kernel for the MTU by name in the forwarder's namespace, where the
// interface no longer is, so the MTU comes from the configuration instead,
// and MTU changes are announced through the event channel.
type tunDevice struct {
	tun.Device
	mtu atomic.Int32

	mu     sync.Mutex
	closed bool
	events chan tun.Event
}

func newTUNDevice(d tun.Device, mtu int) *tunDevice {
	t := &tunDevice{Device: d, events: make(chan tun.Event, 4)}
	t.mtu.Store(int32(mtu))
	return t
}

func (t *tunDevice) MTU() (int, error)        { return int(t.mtu.Load()), nil }
func (t *tunDevice) Events() <-chan tun.Event { return t.events }

func (t *tunDevice) setMTU(mtu int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mtu.Swap(int32(mtu)) == int32(mtu) || t.closed {
		return
	}
	select {
	case t.events <- tun.EventMTUUpdate:
	default: // an update is pending already; it reads the latest value
	}
}

func (t *tunDevice) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	close(t.events)
	return t.Device.Close()
}

// nsBind opens wireguard-go's sockets from a thread in ns, so that they
// live on the underlay whatever namespace the forwarder runs in.
type nsBind struct {
	conn.Bind
	ns *kernel.NetNS
}

func (b *nsBind) Open(port uint16) ([]conn.ReceiveFunc, uint16, error) {
	var (
		fns    []conn.ReceiveFunc
		actual uint16
		err    error
	)
	derr := b.ns.Do(func() error {
		fns, actual, err = b.Bind.Open(port)
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	if derr != nil {
		if fns != nil {
			// Opened, but the thread could not switch back.
			_ = b.Bind.Close()
		}
		return nil, 0, derr
	}
	return fns, actual, nil
}

// wgLogger sends wireguard-go's verbose messages to trace (debug when the
// logger has no trace level) and its errors to warnings: they are about
// packets and handshakes, which WireGuard retries by itself.
func wgLogger(log logrus.FieldLogger) *device.Logger {
	verbose := log.Debugf
	if tl, ok := log.(interface{ Tracef(string, ...any) }); ok {
		verbose = tl.Tracef
	}
	return &device.Logger{
		Verbosef: func(format string, args ...any) { verbose("wireguard-go: "+format, args...) },
		Errorf: func(format string, args ...any) {
			msg := fmt.Sprintf(format, args...)
			if strings.Contains(msg, "no known endpoint") {
				// An end that waits for its peer to greet it first (no
				// endpoint configured) has packets to send meanwhile.
				log.Debug("wireguard-go: " + msg)
				return
			}
			log.Warn("wireguard-go: " + msg)
		},
	}
}

// logger makes a nil logger usable.
func logger(log logrus.FieldLogger) logrus.FieldLogger {
	if log != nil {
		return log
	}
	l := logrus.New()
	l.SetOutput(io.Discard)
	return l
}
