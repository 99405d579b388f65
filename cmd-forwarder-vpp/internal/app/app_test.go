// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package app_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"go.fd.io/govpp/adapter/mock"
	"go.fd.io/govpp/api"
	"go.fd.io/govpp/binapi/memclnt"
	"go.fd.io/govpp/binapi/vpe"
	"go.fd.io/govpp/core"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health/grpc_health_v1"

	"github.com/nsmesh/nsmesh/cmd-forwarder-vpp/internal/app"
	"github.com/nsmesh/nsmesh/cmd-forwarder-vpp/internal/config"
	"github.com/nsmesh/nsmesh/sdk/dataplane/vpp"
	"github.com/nsmesh/nsmesh/sdk/dataplane/vpp/vppinit"
	"github.com/nsmesh/nsmesh/sdk/networkservice/mechanisms/wireguard"
	"github.com/nsmesh/nsmesh/sdk/sandbox"
	"github.com/nsmesh/nsmesh/sdk/tools/spiffe"
)

func TestMain(m *testing.M) {
	// govpp's mock adapter prints every reply with the standard logger.
	log.SetOutput(io.Discard)
	goleak.VerifyTestMain(m)
}

var runID = func() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%d%s", os.Getpid()%10000, hex.EncodeToString(b))
}()

// mockVPP is govpp's mock adapter answering what the forwarder asks at
// start: show_version, control_ping and dumps (empty: a fresh VPP). It
// records the request names, and refuses control pings once told to.
type mockVPP struct {
	*mock.VppAdapter
	mu       sync.Mutex
	requests []string
	// pingRetval is the retval of control_ping replies (0: answered).
	pingRetval atomic.Int32
	// versionRetval is the retval of the show_version reply.
	versionRetval int32
	// uplink makes it answer vppinit's messages; refuse names one it
	// refuses with retval -1.
	uplink bool
	refuse string
}

// replies are the reply types by message name.
var replies = func() map[string]reflect.Type {
	out := make(map[string]reflect.Type)
	for _, msgs := range api.GetRegisteredMessages() {
		for _, m := range msgs {
			if m.GetMessageType() == api.ReplyMessage {
				out[m.GetMessageName()] = reflect.TypeOf(m).Elem()
			}
		}
	}
	return out
}()

func newMockVPP(t *testing.T, versionRetval int32) (*mockVPP, api.Connection) {
	t.Helper()
	return startMockVPP(t, &mockVPP{versionRetval: versionRetval})
}

func startMockVPP(t *testing.T, m *mockVPP) (*mockVPP, api.Connection) {
	t.Helper()
	m.VppAdapter = mock.NewVppAdapter()
	m.MockReplyHandler(func(req mock.MessageDTO) ([]byte, uint16, bool) {
		if req.MsgName == "" {
			// The mock hard-codes the IDs of control_ping and
			// sw_interface_dump and names them only here.
			req.MsgName, _ = m.GetMsgNameByID(req.MsgID)
		}
		m.mu.Lock()
		if req.MsgName != "control_ping" {
			m.requests = append(m.requests, req.MsgName)
		}
		m.mu.Unlock()
		var reply api.Message
		switch {
		case req.MsgName == "show_version":
			reply = &vpe.ShowVersionReply{Retval: m.versionRetval, Program: "vpe", Version: "25.10-mock", BuildDate: "today"}
		case req.MsgName == "control_ping":
			reply = &memclnt.ControlPingReply{Retval: m.pingRetval.Load()}
		case strings.HasSuffix(req.MsgName, "_dump"):
			// No details: the control ping that follows ends the dump.
			return nil, 0, false
		case m.uplink && replies[req.MsgName+"_reply"] != nil:
			// NSM_VPP_INIT=AF_PACKET: the messages of vppinit succeed,
			// unless refused.
			r := reflect.New(replies[req.MsgName+"_reply"]).Interface().(api.Message)
			if req.MsgName == m.refuse {
				reflect.ValueOf(r).Elem().FieldByName("Retval").SetInt(-1)
			}
			reply = r
		default:
			t.Errorf("the forwarder sent %s at start", req.MsgName)
			return nil, 0, false
		}
		data, err := m.ReplyBytes(req, reply)
		if err != nil {
			t.Errorf("encode %s: %v", reply.GetMessageName(), err)
			return nil, 0, false
		}
		id, err := m.GetMsgID(reply.GetMessageName(), reply.GetCrcString())
		if err != nil {
			t.Errorf("id of %s: %v", reply.GetMessageName(), err)
			return nil, 0, false
		}
		return data, id, true
	})
	c, err := core.Connect(m)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Disconnect)
	return m, vpp.WithMinTimeout(c, 2*time.Second)
}

func (m *mockVPP) Requests() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.requests)
}

// testLogger logs to stderr with -v; hook sees every entry.
func testLogger() (*logrus.Logger, *logtest.Hook) {
	l := logrus.New()
	l.SetOutput(io.Discard)
	if testing.Verbose() {
		l.SetOutput(os.Stderr)
	}
	return l, logtest.NewLocal(l)
}

func logged(hook *logtest.Hook, msg string) bool {
	for _, e := range hook.AllEntries() {
		if e.Message == msg {
			return true
		}
	}
	return false
}

func waitLogged(t *testing.T, hook *logtest.Hook, msg string, within time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(within); !logged(hook, msg); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%q not logged within %s", msg, within)
		}
	}
}

// forwarderConfig is a forwarder of the sandbox's node 0, with an SVID of
// its trust domain, serving on a socket in a fresh directory.
func forwarderConfig(t *testing.T, d *sandbox.Domain) *config.Config {
	t.Helper()
	name := "fwd-vpp-" + runID
	svidDir, err := d.WriteSVIDDir(name)
	if err != nil {
		t.Fatal(err)
	}
	// Unix socket paths must stay short, so not t.TempDir().
	dir, err := os.MkdirTemp("", "fwdvpp-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return &config.Config{
		Identity:         spiffe.Config{Mode: spiffe.ModeFiles, SVIDDir: svidDir},
		Name:             name,
		ListenOn:         &url.URL{Scheme: "unix", Path: filepath.Join(dir, "fwd.sock")},
		ConnectTo:        d.Nodes[0].NSMgr.UnixURL(),
		TunnelIP:         net.ParseIP("127.0.0.1"),
		VxlanPort:        4789,
		Labels:           map[string]string{"p2p": "true"},
		MaxTokenLifetime: time.Minute,
		DialTimeout:      time.Second,
		LogLevel:         logrus.InfoLevel,
		AdoptionGrace:    time.Minute,
		VPP:              config.VPP{Init: config.InitNone, MinOperationTimeout: 2 * time.Second},
	}
}

// checkHealth asks the forwarder's grpc.health.v1 over its socket, with mTLS
// as the nsmgr would.
func checkHealth(ctx context.Context, t *testing.T, d *sandbox.Domain, cfg *config.Config) {
	t.Helper()
	id, err := d.NewIdentity("probe")
	if err != nil {
		t.Fatal(err)
	}
	cc, err := grpc.NewClient(cfg.ListenOn.String(), id.DialOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cc.Close() }()
	resp, err := grpc_health_v1.NewHealthClient(cc).Check(ctx, &grpc_health_v1.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != grpc_health_v1.HealthCheckResponse_SERVING {
		t.Fatalf("health: %v, %v", resp, err)
	}
}

// TestServeOnMockVPP runs the forwarder on govpp's mock adapter against an
// in-process nsmgr and registry: it asks VPP for its version first, looks for
// interfaces of an earlier run with one interface dump, registers, answers
// health checks, and stops cleanly when its context ends.
func TestServeOnMockVPP(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d := sandbox.New(ctx, t, sandbox.WithForwardersPerNode(0), sandbox.WithMTLS())
	cfg := forwarderConfig(t, d)
	m, conn := newMockVPP(t, 0)
	logger, hook := testLogger()

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	ran := make(chan error, 1)
	go func() { ran <- app.Serve(runCtx, cfg, conn, logger) }()

	waitLogged(t, hook, "registered", 15*time.Second)
	if got, want := m.Requests(), []string{"show_version", "sw_interface_dump"}; !slices.Equal(got, want) {
		t.Errorf("requests to VPP %v, want %v", got, want)
	}
	var version logrus.Fields
	for _, e := range hook.AllEntries() {
		if e.Message == "VPP answers" {
			version = e.Data
		}
	}
	if version["version"] != "25.10-mock" {
		t.Errorf("VPP version not logged: %v", version)
	}
	checkHealth(ctx, t, d, cfg)

	stop()
	select {
	case err := <-ran:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancellation")
	}
	if _, err := os.Stat(cfg.ListenOn.Path); !os.IsNotExist(err) {
		t.Errorf("socket left behind: %v", err)
	}
}

// A VPP that refuses show_version stops the forwarder before it serves.
func TestServeRefusesAVPPThatDoesNotAnswer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d := sandbox.New(ctx, t, sandbox.WithForwardersPerNode(0), sandbox.WithMTLS())
	cfg := forwarderConfig(t, d)
	_, conn := newMockVPP(t, -1)
	logger, _ := testLogger()
	err := app.Serve(ctx, cfg, conn, logger)
	if err == nil || !strings.HasPrefix(err.Error(), "app: VPP does not answer show_version: ") {
		t.Fatalf("Serve: %v, want the show_version failure", err)
	}
	if _, err := os.Stat(cfg.ListenOn.Path); !os.IsNotExist(err) {
		t.Errorf("it served: %v", err)
	}
}

// When VPP stops answering control pings, the forwarder unregisters and
// stops with an error, so that its supervisor restarts it with VPP.
func TestServeStopsWhenVPPIsLost(t *testing.T) {
	defer app.SetProbe(20*time.Millisecond, 3)()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d := sandbox.New(ctx, t, sandbox.WithForwardersPerNode(0), sandbox.WithMTLS())
	cfg := forwarderConfig(t, d)
	m, conn := newMockVPP(t, 0)
	logger, hook := testLogger()
	ran := make(chan error, 1)
	go func() { ran <- app.Serve(ctx, cfg, conn, logger) }()
	waitLogged(t, hook, "registered", 15*time.Second)
	// Answers keep it running: several probe periods without a failure.
	time.Sleep(200 * time.Millisecond)
	if logged(hook, "VPP does not answer control_ping") {
		t.Fatal("a probe failed while VPP answered")
	}
	m.pingRetval.Store(-1)
	select {
	case err := <-ran:
		if err == nil || !strings.Contains(err.Error(), "app: VPP stopped answering: 3 control pings in a row failed") {
			t.Fatalf("Serve: %v, want VPP lost", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Serve still runs after VPP stopped answering")
	}
	if !logged(hook, "shutting down: VPP is gone") {
		t.Error("the stop is not logged")
	}
}

// fakeVPPBinary writes a stand-in for vpp that never serves the API: it
// exits with status code after delay, or (code < 0) runs until SIGTERM and
// then touches <dir>/terminated; <dir>/ready appears once it handles SIGTERM.
func fakeVPPBinary(t *testing.T, code int, delay string) (bin, ready, terminated string) {
	t.Helper()
	dir := t.TempDir()
	bin, ready, terminated = filepath.Join(dir, "vpp"), filepath.Join(dir, "ready"), filepath.Join(dir, "terminated")
	script := fmt.Sprintf("#!/bin/sh\nsleep %s\nexit %d\n", delay, code)
	if code < 0 {
		script = "#!/bin/sh\ntrap 'touch " + terminated + "; exit 0' TERM\ntouch " + ready + "\nwhile :; do sleep 0.02; done\n"
	}
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin, ready, terminated
}

func runConfig(t *testing.T, bin string) *config.Config {
	dir := t.TempDir()
	return &config.Config{
		Identity: spiffe.Insecure(),
		Name:     "fwd-vpp-" + runID,
		ListenOn: &url.URL{Scheme: "unix", Path: filepath.Join(dir, "fwd.sock")},
		VPP: config.VPP{APISocket: filepath.Join(dir, "external.sock"), Init: config.InitNone,
			MinOperationTimeout: 2 * time.Second, Binary: bin, RootDir: filepath.Join(dir, "root")},
	}
}

// A local VPP that dies before it serves its API ends Run with its exit.
func TestRunExitsWhenTheLocalVPPDies(t *testing.T) {
	bin, _, _ := fakeVPPBinary(t, 3, "0.2")
	logger, _ := testLogger()
	ran := make(chan error, 1)
	go func() { ran <- app.Run(context.Background(), runConfig(t, bin), logger) }()
	select {
	case err := <-ran:
		if err == nil || !strings.Contains(err.Error(), "exited: exit status 3") {
			t.Fatalf("Run: %v, want the local VPP's exit", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run still runs after its VPP died")
	}
}

// Stopping the forwarder while it waits for its local VPP stops that VPP.
func TestRunStopsTheLocalVPP(t *testing.T) {
	bin, ready, terminated := fakeVPPBinary(t, -1, "")
	logger, hook := testLogger()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- app.Run(ctx, runConfig(t, bin), logger) }()
	waitLogged(t, hook, "local VPP started", 10*time.Second)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the stand-in VPP never got ready")
		}
	}
	cancel()
	select {
	case err := <-ran:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after cancellation")
	}
	if _, err := os.Stat(terminated); err != nil {
		t.Errorf("the local VPP was not sent SIGTERM: %v", err)
	}
}

// With an external socket that never answers the binary API, Run keeps
// trying (it starts no VPP of its own) until it is stopped.
func TestRunWaitsForTheExternalVPP(t *testing.T) {
	cfg := runConfig(t, "vpp-must-not-be-started")
	l, err := net.Listen("unix", cfg.VPP.APISocket)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer func() { _ = c.Close() }() // held open, never answered
		}
	}()
	logger, hook := testLogger()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- app.Run(ctx, cfg, logger) }()
	waitLogged(t, hook, "attaching to the external VPP", 10*time.Second)
	waitLogged(t, hook, "connecting to VPP (retried until it answers)", 10*time.Second)
	select {
	case err := <-ran:
		t.Fatalf("Run returned while waiting for VPP: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	cancel()
	select {
	case err := <-ran:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after cancellation")
	}
	if !logged(hook, "stopped before VPP answered") {
		t.Error("the stop is not logged")
	}
}

// testUplink stands for the kernel's uplink in the AF_PACKET tests.
func testUplink(tunnelIP net.IP) (*vppinit.Uplink, error) {
	if tunnelIP != nil && !tunnelIP.Equal(net.ParseIP("192.0.2.10")) {
		return nil, fmt.Errorf("vppinit: NSM_TUNNEL_IP %s: %w", tunnelIP, vppinit.ErrNoUplink)
	}
	return &vppinit.Uplink{Name: "eth0", MAC: net.HardwareAddr{2, 0, 0, 0, 0, 10}, MTU: 9000,
		Addr:       &net.IPNet{IP: net.ParseIP("192.0.2.10").To4(), Mask: net.CIDRMask(24, 32)},
		Neighbours: []vppinit.Neighbour{{IP: net.ParseIP("192.0.2.1"), MAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}}},
		Routes:     []vppinit.Route{{Dst: &net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}, Gw: net.ParseIP("192.0.2.1")}},
	}, nil
}

// With NSM_VPP_INIT=AF_PACKET the forwarder attaches VPP to the uplink
// after show_version and before its data plane looks for interfaces and it
// registers; the tunnels use the uplink's address.
func TestServeAFPacket(t *testing.T) {
	defer app.SetDiscoverUplink(testUplink)()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d := sandbox.New(ctx, t, sandbox.WithForwardersPerNode(0), sandbox.WithMTLS())
	cfg := forwarderConfig(t, d)
	cfg.VPP.Init = config.InitAFPacket
	cfg.TunnelIP = nil // found on the default-route link
	cfg.WireguardPorts = wireguard.DefaultPortRange
	m, conn := startMockVPP(t, &mockVPP{uplink: true})
	logger, hook := testLogger()

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	ran := make(chan error, 1)
	go func() { ran <- app.Serve(runCtx, cfg, conn, logger) }()
	waitLogged(t, hook, "registered", 15*time.Second)
	want := []string{"show_version",
		"af_packet_dump", "af_packet_create_v3", "sw_interface_set_mtu",
		"acl_dump", "acl_add_replace", "acl_add_replace", "acl_add_replace", "acl_add_replace", "acl_interface_set_acl_list",
		"sw_interface_set_flags", "ip_neighbor_add_del", "ip_address_dump", "sw_interface_add_del_address", "ip_route_add_del",
		"sw_interface_dump"}
	if got := m.Requests(); !slices.Equal(got, want) {
		t.Errorf("requests to VPP\n got %v\nwant %v", got, want)
	}
	var attached, tunnels logrus.Fields
	for _, e := range hook.AllEntries() {
		switch e.Message {
		case "uplink attached to VPP":
			attached = e.Data
		case "remote connections: WireGuard for IP payload, VXLAN for ETHERNET payload or label " + wireguard.MechanismLabel + "=vxlan":
			tunnels = e.Data
		}
	}
	if fmt.Sprint(attached["mtu"]) != "9000" || fmt.Sprint(attached["tunnel_ip"]) != "192.0.2.10" {
		t.Errorf("attach logged as %v", attached)
	}
	if tunnels["tunnel_ip"] != "192.0.2.10" {
		t.Errorf("tunnels not on the uplink's address: %v", tunnels)
	}
	stop()
	select {
	case err := <-ran:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancellation")
	}
}

// An uplink that cannot be found or attached stops the forwarder before it
// serves.
func TestServeAFPacketFailures(t *testing.T) {
	defer app.SetDiscoverUplink(testUplink)()
	for _, tc := range []struct {
		name     string
		tunnelIP string
		refuse   string
		want     string
	}{
		{name: "no uplink", tunnelIP: "198.51.100.7",
			want: "app: NSM_VPP_INIT=AF_PACKET: vppinit: NSM_TUNNEL_IP 198.51.100.7: no uplink"},
		{name: "VPP refuses", tunnelIP: "192.0.2.10", refuse: "af_packet_create_v3",
			want: "app: NSM_VPP_INIT=AF_PACKET on eth0: vppinit: af_packet_create_v3: VPP refused (retval -1)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			d := sandbox.New(ctx, t, sandbox.WithForwardersPerNode(0), sandbox.WithMTLS())
			cfg := forwarderConfig(t, d)
			cfg.VPP.Init = config.InitAFPacket
			cfg.TunnelIP = net.ParseIP(tc.tunnelIP)
			m, conn := startMockVPP(t, &mockVPP{uplink: true, refuse: tc.refuse})
			logger, _ := testLogger()
			err := app.Serve(ctx, cfg, conn, logger)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("Serve: %v, want %q", err, tc.want)
			}
			if _, err := os.Stat(cfg.ListenOn.Path); !os.IsNotExist(err) {
				t.Errorf("it served: %v", err)
			}
			if slices.Contains(m.Requests(), "sw_interface_dump") {
				t.Errorf("the data plane started: %v", m.Requests())
			}
		})
	}
}
