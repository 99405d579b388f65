// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package wireguard

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/tun"

	apiwg "github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/wireguard"
	"github.com/nsmesh/nsmesh/sdk/dataplane/kernel"
)

const (
	// OverheadIPv4 is what WireGuard adds over an IPv4 underlay: IPv4 20,
	// UDP 8, WireGuard data header 16, Poly1305 tag 16.
	OverheadIPv4 = 60
	// OverheadIPv6 is the same over IPv6 (a 40-byte outer header).
	OverheadIPv6 = 80
	// MinMTU is the smallest MTU a tunnel accepts (the IPv4 minimum).
	MinMTU = 68
	// MaxMTU is the largest MTU wireguard-go handles.
	MaxMTU = device.MaxContentSize
)

// MTUFor is the largest inner MTU over an underlay of the given MTU when the
// peer is remote.
func MTUFor(underlay int, remote netip.Addr) int {
	if remote.Unmap().Is4() {
		return underlay - OverheadIPv4
	}
	return underlay - OverheadIPv6
}

// Peer is the other end of a tunnel.
type Peer struct {
	// PublicKey is the peer forwarder's key for this connection.
	PublicKey apiwg.Key
	// Endpoint is the peer forwarder's tunnel address and UDP port. The
	// zero value leaves it to be learned from the peer's first handshake:
	// this end then never initiates, which is what the endpoint's side of a
	// connection wants (see the package documentation).
	Endpoint netip.AddrPort
}

// Config is one end of a WIREGUARD connection.
type Config struct {
	Mark kernel.Mark
	// Host holds the UDP sockets; nil means the calling thread's namespace
	// (the forwarder's). The Tunnel uses it whenever it rebinds, so the
	// caller must keep it open for the Tunnel's lifetime.
	Host *kernel.NetNS
	// End is the interface in the workload's namespace. The namespace is
	// used during New and Update only.
	End        kernel.Endpoint
	PrivateKey apiwg.Key
	// ListenPort is this end's UDP port.
	ListenPort uint16
	Peer       Peer
	// MTU of the interface, MinMTU to MaxMTU (see MTUFor).
	MTU int
	// Keepalive is the persistent keepalive interval; 0 disables it. With
	// it, the device also greets the peer as soon as it is up, so the
	// handshake is done before the first packet.
	Keepalive time.Duration
}

func (c Config) validate() error {
	if err := c.Mark.Validate(); err != nil {
		return err
	}
	if c.End.NS == nil {
		return errors.New("no workload namespace")
	}
	if err := kernel.ValidateIfName(c.End.Name); err != nil {
		return err
	}
	var zero apiwg.Key
	switch {
	case c.PrivateKey == zero:
		return errors.New("no private key")
	case c.Peer.PublicKey == zero:
		return errors.New("no peer public key")
	case c.ListenPort == 0:
		return errors.New("no listen port")
	case c.Peer.Endpoint.IsValid() && (c.Peer.Endpoint.Port() == 0 || c.Peer.Endpoint.Addr().IsUnspecified()):
		return fmt.Errorf("peer endpoint %s is not an address and port", c.Peer.Endpoint)
	case c.MTU < MinMTU || c.MTU > MaxMTU:
		return fmt.Errorf("mtu %d out of range %d..%d", c.MTU, MinMTU, MaxMTU)
	case c.Keepalive < 0 || c.Keepalive > 65535*time.Second:
		return fmt.Errorf("keepalive %s out of range 0..65535s", c.Keepalive)
	}
	return nil
}

// peerLines is the UAPI peer section: the only peer, every address routed
// to it.
func (c Config) peerLines(b *strings.Builder) {
	fmt.Fprintf(b, "replace_peers=true\npublic_key=%s\n", hex.EncodeToString(c.Peer.PublicKey[:]))
	if c.Peer.Endpoint.IsValid() {
		fmt.Fprintf(b, "endpoint=%s\n", c.Peer.Endpoint)
	}
	fmt.Fprintf(b, "persistent_keepalive_interval=%d\n", int(c.Keepalive/time.Second))
	b.WriteString("replace_allowed_ips=true\nallowed_ip=0.0.0.0/0\nallowed_ip=::/0\n")
}

// Tunnel is one running end of a WIREGUARD connection.
type Tunnel struct {
	dev *device.Device
	tun *tunDevice
	id  kernel.NSID

	mu  sync.Mutex
	cfg Config
}

// New creates the interface and starts the device. The interface is left
// down and unaddressed: kernel.Configure does the rest.
func New(ctx context.Context, log logrus.FieldLogger, cfg Config) (*Tunnel, error) {
	start := time.Now()
	wrap := func(err error) error {
		return fmt.Errorf("wireguard: create tunnel %s: %w", cfg.End, err)
	}
	if err := cfg.validate(); err != nil {
		return nil, wrap(err)
	}
	if err := ctx.Err(); err != nil {
		return nil, wrap(err)
	}
	log = logger(log).WithFields(logrus.Fields{"conn": cfg.Mark.ConnID, "if": cfg.End.String(),
		"port": cfg.ListenPort, "peer": peerString(cfg.Peer)})
	hw, err := handleIn(cfg.End.NS)
	if err != nil {
		return nil, wrap(err)
	}
	defer hw.Close()
	if err := clearName(hw, cfg.End.Name, cfg.Mark); err != nil {
		return nil, wrap(err)
	}

	fd, tmp, err := openTUN(cfg.Host)
	if err != nil {
		return nil, wrap(err)
	}
	if err := moveTUN(cfg, hw, tmp); err != nil {
		_ = unix.Close(fd) // the kernel deletes the interface wherever it is
		return nil, wrap(err)
	}
	nt, _, err := tun.CreateUnmonitoredTUNFromFD(fd)
	if err != nil {
		_ = unix.Close(fd)
		return nil, wrap(err)
	}
	td := newTUNDevice(nt, cfg.MTU)
	var bind conn.Bind = conn.NewStdNetBind()
	if cfg.Host != nil {
		bind = &nsBind{Bind: bind, ns: cfg.Host}
	}
	dev := device.NewDevice(td, bind, wgLogger(log))
	var b strings.Builder
	fmt.Fprintf(&b, "private_key=%s\nlisten_port=%d\n", hex.EncodeToString(cfg.PrivateKey[:]), cfg.ListenPort)
	cfg.peerLines(&b)
	if err := dev.IpcSet(b.String()); err != nil {
		dev.Close()
		return nil, wrap(fmt.Errorf("configure device: %w", err))
	}
	if err := dev.Up(); err != nil {
		dev.Close()
		if errors.Is(err, unix.EADDRINUSE) {
			err = fmt.Errorf("%w (UDP port %d is taken in the host namespace by another program)", err, cfg.ListenPort)
		}
		return nil, wrap(fmt.Errorf("bring device up on port %d: %w", cfg.ListenPort, err))
	}
	t := &Tunnel{dev: dev, tun: td, id: cfg.End.NS.ID(), cfg: cfg}
	t.cfg.End.NS = nil
	log.WithFields(logrus.Fields{"mtu": cfg.MTU, "duration": time.Since(start)}).Info("wireguard: created tunnel")
	return t, nil
}

// Update brings the tunnel to cfg, changing only what differs. cfg must name
// the same interface in the same namespace (ErrMoved otherwise: create a new
// Tunnel instead).
func (t *Tunnel) Update(ctx context.Context, log logrus.FieldLogger, cfg Config) error {
	wrap := func(err error) error {
		return fmt.Errorf("wireguard: update tunnel %s: %w", cfg.End, err)
	}
	if err := cfg.validate(); err != nil {
		return wrap(err)
	}
	if err := ctx.Err(); err != nil {
		return wrap(err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if cfg.End.NS.ID() != t.id || cfg.End.Name != t.cfg.End.Name || cfg.Mark != t.cfg.Mark || cfg.Host != t.cfg.Host {
		return wrap(ErrMoved)
	}
	select {
	case <-t.dev.Wait():
		return wrap(ErrClosed)
	default:
	}
	log = logger(log).WithFields(logrus.Fields{"conn": cfg.Mark.ConnID, "if": cfg.End.String()})
	var b strings.Builder
	if cfg.PrivateKey != t.cfg.PrivateKey {
		fmt.Fprintf(&b, "private_key=%s\n", hex.EncodeToString(cfg.PrivateKey[:]))
	}
	if cfg.ListenPort != t.cfg.ListenPort {
		fmt.Fprintf(&b, "listen_port=%d\n", cfg.ListenPort)
	}
	if cfg.Peer != t.cfg.Peer || cfg.Keepalive != t.cfg.Keepalive {
		cfg.peerLines(&b)
	}
	if b.Len() > 0 {
		if err := t.dev.IpcSet(b.String()); err != nil {
			return wrap(err)
		}
		log.WithFields(logrus.Fields{"port": cfg.ListenPort, "peer": peerString(cfg.Peer)}).Info("wireguard: updated tunnel")
	}
	if cfg.MTU != t.cfg.MTU {
		h, err := handleIn(cfg.End.NS)
		if err != nil {
			return wrap(err)
		}
		defer h.Close()
		l, err := h.LinkByName(cfg.End.Name)
		if err == nil {
			err = h.LinkSetMTU(l, cfg.MTU)
		}
		if err != nil {
			return wrap(fmt.Errorf("set mtu %d: %w", cfg.MTU, err))
		}
		t.tun.setMTU(cfg.MTU)
	}
	t.cfg = cfg
	t.cfg.End.NS = nil
	return nil
}

var (
	// ErrMoved is wrapped by Update when the configuration names another
	// interface or namespace than the tunnel's.
	ErrMoved = errors.New("the tunnel's interface, namespace or mark differs")
	// ErrClosed is wrapped by Update when the tunnel has stopped.
	ErrClosed = errors.New("the tunnel is closed")
)

// Close stops the device and closes the TUN descriptor, which deletes the
// interface. It is safe to call more than once.
func (t *Tunnel) Close() {
	t.dev.Close()
}

// Done is closed when the tunnel has stopped: after Close, or when the
// interface disappeared (its namespace died with the workload).
func (t *Tunnel) Done() <-chan struct{} { return t.dev.Wait() }

// NSID is the workload namespace the interface was created in.
func (t *Tunnel) NSID() kernel.NSID { return t.id }

// Config returns the configuration last applied, without the namespaces.
func (t *Tunnel) Config() Config {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.cfg
	c.Host = nil
	return c
}

// Stats is what the device reports about its peer.
type Stats struct {
	// LastHandshake is zero until a handshake completed.
	LastHandshake time.Time
	RxBytes       uint64
	TxBytes       uint64
}

// Stats reads the peer's counters.
func (t *Tunnel) Stats() (Stats, error) {
	text, err := t.dev.IpcGet()
	if err != nil {
		return Stats{}, fmt.Errorf("wireguard: read device: %w", err)
	}
	var s Stats
	var sec, nsec int64
	for line := range strings.SplitSeq(text, "\n") {
		k, v, _ := strings.Cut(line, "=")
		n, _ := strconv.ParseUint(v, 10, 64)
		switch k {
		case "last_handshake_time_sec":
			sec = int64(n)
		case "last_handshake_time_nsec":
			nsec = int64(n)
		case "rx_bytes":
			s.RxBytes = n
		case "tx_bytes":
			s.TxBytes = n
		}
	}
	if sec != 0 || nsec != 0 {
		s.LastHandshake = time.Unix(sec, nsec)
	}
	return s, nil
}

func peerString(p Peer) string {
	if !p.Endpoint.IsValid() {
		return "learned"
	}
	return p.Endpoint.String()
}

// clearName makes sure name is free in the workload namespace: a leftover
// carrying m is deleted, anything else is a conflict.
func clearName(h *netlink.Handle, name string, m kernel.Mark) error {
	l, err := h.LinkByName(name)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("look up %s: %w", name, err)
	}
	if got, ok := kernel.ParseMark(l.Attrs().Alias); !ok || got != m {
		return fmt.Errorf("interface name %s is taken by a %s link that is not this connection's (alias %q)", name, l.Type(), l.Attrs().Alias)
	}
	if err := h.LinkDel(l); err != nil && !isNotFound(err) {
		return fmt.Errorf("remove leftover %s: %w", name, err)
	}
	return nil
}

// openTUN creates a TUN interface with a random name in host and returns its
// descriptor. IFF_VNET_HDR lets wireguard-go use TSO/GSO offloads.
func openTUN(host *kernel.NetNS) (int, string, error) {
	var b [5]byte
	_, _ = rand.Read(b[:])
	name := "nsmwg" + hex.EncodeToString(b[:])
	fd := -1
	open := func() error {
		var err error
		if fd, err = unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0); err != nil {
			return fmt.Errorf("open /dev/net/tun: %w", err)
		}
		ifr, err := unix.NewIfreq(name)
		if err == nil {
			ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI | unix.IFF_VNET_HDR)
			err = unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr)
		}
		if err != nil {
			_ = unix.Close(fd)
			fd = -1
			return fmt.Errorf("create tun %s: %w", name, err)
		}
		return nil
	}
	var err error
	if host == nil {
		err = open()
	} else {
		err = host.Do(open)
	}
	if err != nil && fd >= 0 {
		_ = unix.Close(fd) // opened, but the thread could not return
		fd = -1
	}
	return fd, name, err
}

// moveTUN moves the interface tmp from the host namespace into the
// workload's and gives it its name, mark and MTU there.
func moveTUN(cfg Config, hw *netlink.Handle, tmp string) error {
	hh, err := handleIn(cfg.Host)
	if err != nil {
		return err
	}
	defer hh.Close()
	l, err := hh.LinkByName(tmp)
	if err == nil {
		err = hh.LinkSetNsFd(l, cfg.End.NS.Fd())
	}
	if err != nil {
		return fmt.Errorf("move tun %s into %s: %w", tmp, cfg.End.NS, err)
	}
	if l, err = hw.LinkByName(tmp); err != nil {
		return fmt.Errorf("find tun %s after the move: %w", tmp, err)
	}
	if err := hw.LinkSetName(l, cfg.End.Name); err != nil {
		if errors.Is(err, unix.EEXIST) {
			err = fmt.Errorf("%w (created meanwhile by someone else)", err)
		}
		return fmt.Errorf("rename %s to %s: %w", tmp, cfg.End.Name, err)
	}
	if err := hw.LinkSetAlias(l, cfg.Mark.Alias()); err != nil {
		return fmt.Errorf("set alias on %s: %w", cfg.End.Name, err)
	}
	if err := hw.LinkSetMTU(l, cfg.MTU); err != nil {
		return fmt.Errorf("set mtu %d on %s: %w", cfg.MTU, cfg.End.Name, err)
	}
	return nil
}

// handleIn returns a netlink handle in ns (nil: the calling thread's).
func handleIn(ns *kernel.NetNS) (*netlink.Handle, error) {
	var (
		h   *netlink.Handle
		err error
	)
	if ns == nil {
		h, err = netlink.NewHandle(unix.NETLINK_ROUTE)
	} else {
		h, err = netlink.NewHandleAt(netns.NsHandle(ns.Fd()), unix.NETLINK_ROUTE)
	}
	if err != nil {
		return nil, fmt.Errorf("netlink handle in %s: %w", ns, err)
	}
	return h, nil
}

func isNotFound(err error) bool {
	if err == nil {
		return false
	}
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf) || errors.Is(err, unix.ENODEV)
}
