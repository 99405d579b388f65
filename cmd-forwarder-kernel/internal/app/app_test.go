// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package app_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/cmd-forwarder-kernel/internal/app"
	"github.com/nsmesh/nsmesh/cmd-forwarder-kernel/internal/config"
	"github.com/nsmesh/nsmesh/sdk/chains/client"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/dataplane/kernel"
	kernelmech "github.com/nsmesh/nsmesh/sdk/networkservice/mechanisms/kernel"
	"github.com/nsmesh/nsmesh/sdk/sandbox"
	"github.com/nsmesh/nsmesh/sdk/tools/spiffe"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var runID = func() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%d%s", os.Getpid()%10000, hex.EncodeToString(b))
}()

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) to create network namespaces and links")
	}
}

// newNS creates the namespace fwdapp-<run>-<tag>, deleted at cleanup.
func newNS(t *testing.T, tag string) (*kernel.NetNS, string) {
	t.Helper()
	name := fmt.Sprintf("fwdapp-%s-%s", runID, tag)
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer func() { _ = orig.Close() }()
		h, err := netns.NewNamed(name)
		if err == nil {
			_ = h.Close()
		}
		if serr := netns.Set(orig); serr != nil {
			errc <- errors.Join(err, serr)
			return
		}
		runtime.UnlockOSThread()
		errc <- err
	}()
	if err := <-errc; err != nil {
		_ = netns.DeleteNamed(name)
		t.Fatalf("create netns %s: %v", name, err)
	}
	ns, err := kernel.OpenNetNS(name)
	if err != nil {
		_ = netns.DeleteNamed(name)
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = ns.Close()
		if err := netns.DeleteNamed(name); err != nil {
			t.Errorf("delete netns %s: %v", name, err)
		}
	})
	return ns, "/run/netns/" + name
}

func handle(t *testing.T, ns *kernel.NetNS) *netlink.Handle {
	t.Helper()
	h, err := netlink.NewHandleAt(netns.NsHandle(ns.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

func TestDefaultRouteIP(t *testing.T) {
	requireRoot(t)
	for _, tt := range []struct {
		name    string
		addrs   []string
		gateway string
		want    string
	}{
		{"ipv4", []string{"192.0.2.5/24", "fd00:5::5/64"}, "192.0.2.1", "192.0.2.5"},
		{"ipv6 only", []string{"fd00:6::5/64"}, "fd00:6::1", "fd00:6::5"},
		{"no default route", []string{"192.0.2.5/24"}, "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ns, _ := newNS(t, "dr"+tt.name[:2])
			h := handle(t, ns)
			// The machine has no dummy links; a veth with its peer in the
			// same test namespace serves as the uplink.
			if err := h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "up0"}, PeerName: "up1"}); err != nil {
				t.Fatal(err)
			}
			var prefixes []netip.Prefix
			for _, a := range tt.addrs {
				prefixes = append(prefixes, netip.MustParsePrefix(a))
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := (kernel.InterfaceConfig{Addrs: prefixes}).Apply(ctx, nil, ns, "up0"); err != nil {
				t.Fatal(err)
			}
			if tt.gateway != "" {
				l, err := h.LinkByName("up0")
				if err != nil {
					t.Fatal(err)
				}
				if err := h.RouteAdd(&netlink.Route{LinkIndex: l.Attrs().Index, Gw: net.ParseIP(tt.gateway)}); err != nil {
					t.Fatal(err)
				}
			}
			got, err := app.DefaultRouteIP(h)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("got %s, want an error", got)
				}
				return
			}
			if err != nil || got.String() != tt.want {
				t.Fatalf("got %s, %v; want %s", got, err, tt.want)
			}
		})
	}
}

// nseInNS plays an endpoint living in a namespace: on the way back it names
// its own namespace and interface in the KERNEL mechanism (the sandbox
// endpoint's kernel server names the test process's).
type nseInNS struct {
	chain.ServerLink
	path, ifName string
}

func (s *nseInNS) Request(ctx context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	conn, err := s.Next().Request(ctx, req)
	if err != nil {
		return nil, err
	}
	conn.Mechanism.Parameters["inodeURL"] = "file://" + s.path
	conn.Mechanism.Parameters["name"] = s.ifName
	return conn, nil
}

func (s *nseInNS) Close(ctx context.Context, conn *networkservice.Connection) (*emptypb.Empty, error) {
	return s.Next().Close(ctx, conn)
}

func logger(t *testing.T) *logrus.Logger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	if testing.Verbose() {
		l.SetOutput(os.Stderr)
	}
	return l
}

// TestLocalConnectionThroughTheForwarder runs the forwarder application
// against an in-process registry and nsmgr: it registers, a client request
// gets a veth pair between the client's and the endpoint's namespaces with
// the endpoint's addresses, traffic passes, both namespaces are pinned in
// the state directory while the connection lives, Close removes the
// interfaces and the pins, and cancelling Run stops it cleanly.
func TestLocalConnectionThroughTheForwarder(t *testing.T) {
	requireRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nscNS, nscPath := newNS(t, "nsc")
	nseNS, nsePath := newNS(t, "nse")

	// mTLS as deployed: the forwarder reads an SVID directory of the
	// sandbox's trust domain.
	d := sandbox.New(ctx, t, sandbox.WithForwardersPerNode(0), sandbox.WithMTLS())
	node := d.Nodes[0]
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	t.Cleanup(func() { unmountUnder(t, state) }) // before TempDir's removal
	name := "fwd-" + runID
	svidDir, err := d.WriteSVIDDir(name)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{
		Identity:         spiffe.Config{Mode: spiffe.ModeFiles, SVIDDir: svidDir},
		Name:             name,
		ListenOn:         &url.URL{Scheme: "unix", Path: filepath.Join(dir, "fwd.sock")},
		ConnectTo:        node.NSMgr.UnixURL(),
		TunnelIP:         net.ParseIP("127.0.0.1"),
		VxlanPort:        4789,
		Labels:           map[string]string{"p2p": "true"},
		MaxTokenLifetime: time.Minute,
		DialTimeout:      time.Second,
		LogLevel:         logrus.InfoLevel,
		AdoptionGrace:    time.Minute,
		StateDir:         state,
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	ran := make(chan error, 1)
	go func() { ran <- app.Run(runCtx, cfg, logger(t)) }()

	if err := node.RegisterService(ctx, &registry.NetworkService{Name: "red"}); err != nil {
		t.Fatal(err)
	}
	if _, err := node.NewEndpoint(ctx, &registry.NetworkServiceEndpoint{Name: "nse-red", NetworkServiceNames: []string{"red"}},
		sandbox.Fresh(func() networkservice.NetworkServiceServer { return &nseInNS{path: nsePath, ifName: "red-srv"} })); err != nil {
		t.Fatal(err)
	}
	// The sandbox client already offers KERNEL (naming the interface); this
	// element moves the offer into the client's namespace.
	offer, err := kernelmech.NewClient(kernelmech.WithNetNSURL("file://" + nscPath))
	if err != nil {
		t.Fatal(err)
	}
	nsc, err := node.NewClient(ctx, "nsc-1", client.WithAdditionalFunctionality(offer))
	if err != nil {
		t.Fatal(err)
	}
	var conn *networkservice.Connection
	for deadline := time.Now().Add(10 * time.Second); ; {
		// The forwarder registers asynchronously.
		conn, err = nsc.Request(ctx, &networkservice.NetworkServiceRequest{Connection: &networkservice.Connection{NetworkService: "red"}})
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	var hops []string
	for _, s := range conn.GetPath().GetPathSegments() {
		hops = append(hops, s.GetName())
	}
	if len(hops) != 4 || hops[2] != name {
		t.Fatalf("path %v, want the forwarder %s third", hops, name)
	}
	// The endpoint's IPAM chose the addresses; each side must carry its own.
	ipc := conn.GetContext().GetIpContext()
	if len(ipc.GetSrcIpAddrs()) == 0 || len(ipc.GetDstIpAddrs()) == 0 {
		t.Fatalf("no addresses in the connection context: %v", ipc)
	}
	clientIf := conn.GetMechanism().GetParameters()["name"]
	for _, c := range []struct {
		ns     *kernel.NetNS
		ifName string
		want   []string
	}{{nscNS, clientIf, ipc.GetSrcIpAddrs()}, {nseNS, "red-srv", ipc.GetDstIpAddrs()}} {
		h := handle(t, c.ns)
		l, err := h.LinkByName(c.ifName)
		if err != nil {
			t.Fatalf("interface %s: %v", c.ifName, err)
		}
		addrs, err := h.AddrList(l, netlink.FAMILY_ALL)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, a := range addrs {
			if a.Scope == int(netlink.SCOPE_UNIVERSE) {
				got = append(got, a.IPNet.String())
			}
		}
		slices.Sort(got)
		want := slices.Sorted(slices.Values(c.want))
		if !slices.Equal(got, want) {
			t.Fatalf("%s addresses %v, want %v", c.ifName, got, want)
		}
	}
	server := netip.MustParsePrefix(ipc.GetDstIpAddrs()[0]).Addr()
	if err := tcpEcho(nscNS, nseNS, server); err != nil {
		t.Fatal(err)
	}
	pins := filepath.Join(state, name+".netns")
	if got, want := pinnedIn(t, pins), []uint64{nscNS.Inode(), nseNS.Inode()}; !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		t.Errorf("pinned namespaces %v, want the client's and the endpoint's %v", got, want)
	}

	if _, err := nsc.Close(ctx, conn); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []*kernel.NetNS{nscNS, nseNS} {
		links, err := handle(t, ns).LinkList()
		if err != nil {
			t.Fatal(err)
		}
		if len(links) != 1 { // lo
			t.Errorf("%d links left in %s after Close", len(links)-1, ns)
		}
	}
	if got := pinnedIn(t, pins); len(got) != 0 {
		t.Errorf("namespaces still pinned after Close: %v", got)
	}
	stop()
	select {
	case err := <-ran:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancellation")
	}
}

// pinnedIn returns the inodes of the namespaces pinned in dir, sorted.
func pinnedIn(t *testing.T, dir string) []uint64 {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []uint64
	for _, e := range entries {
		ns, err := kernel.OpenNetNS(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Errorf("pin %s: %v", e.Name(), err)
			continue
		}
		out = append(out, ns.Inode())
		_ = ns.Close()
	}
	slices.Sort(out)
	return out
}

// unmountUnder unmounts every mount point under dir, so that no pin
// outlives the test whatever its outcome.
func unmountUnder(t *testing.T, dir string) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Error(err)
		return
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			if err := unix.Unmount(f[4], unix.MNT_DETACH); err != nil {
				t.Errorf("unmount %s: %v", f[4], err)
			}
		}
	}
}

// tcpEcho connects from the client namespace to a listener in the endpoint
// namespace and checks that a message comes back.
func tcpEcho(cns, sns *kernel.NetNS, server netip.Addr) error {
	var ln net.Listener
	if err := sns.Do(func() error {
		l, err := net.Listen("tcp", netip.AddrPortFrom(server, 0).String())
		ln = l
		return err
	}); err != nil {
		return err
	}
	defer func() { _ = ln.Close() }()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer func() { _ = c.Close() }()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.Copy(c, io.LimitReader(c, 5))
	}()
	var conn net.Conn
	if err := cns.Do(func() error {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
		conn = c
		return err
	}); err != nil {
		return fmt.Errorf("dial %s: %w", ln.Addr(), err)
	}
	defer func() { _ = conn.Close() }()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte("hello")); err != nil {
		return err
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "hello" {
		return fmt.Errorf("echo %q, %v", buf, err)
	}
	return nil
}
