// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package app_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/proto"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	kernelmech "github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/kernel"
	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/cmd-nse-icmp/internal/app"
	"github.com/nsmesh/nsmesh/cmd-nse-icmp/internal/config"
	"github.com/nsmesh/nsmesh/sdk/sandbox"
	"github.com/nsmesh/nsmesh/sdk/tools/grpcutils"
	"github.com/nsmesh/nsmesh/sdk/tools/spiffe"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func logger(buf io.Writer) *logrus.Logger {
	l := logrus.New()
	l.SetOutput(buf)
	if testing.Verbose() {
		l.SetOutput(io.MultiWriter(buf, os.Stderr))
	}
	return l
}

// socketDir is a short directory for unix sockets (108-byte limit).
func socketDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "nseicmp-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

func testConfig(node *sandbox.Node, listenOn *url.URL) *config.Config {
	return &config.Config{
		Name:             "icmp-test",
		ConnectTo:        node.NSMgr.UnixURL(),
		ListenOn:         listenOn,
		MaxTokenLifetime: time.Minute,
		// Room for two connections, so that exhaustion and freeing show.
		CIDRPrefixes:     []netip.Prefix{netip.MustParsePrefix("10.60.0.0/30"), netip.MustParsePrefix("fd60::/126")},
		ServiceNames:     []string{"icmp-responder", "icmp-blue"},
		Payload:          "ETHERNET",
		Labels:           map[string]string{"app": "icmp"},
		DNSConfigs:       []*networkservice.DNSConfig{{DnsServerIps: []string{"10.60.0.53"}, SearchDomains: []string{"icmp.svc"}}},
		RegisterService:  true,
		UnregisterItself: true,
		DialTimeout:      time.Second,
		LogLevel:         logrus.InfoLevel,
		Identity:         spiffe.Insecure(),
	}
}

// request asks for ns until the endpoint has registered.
func request(ctx context.Context, t *testing.T, nsc networkservice.NetworkServiceClient, ns string) *networkservice.Connection {
	t.Helper()
	var lastErr error
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		reqCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
		conn, err := nsc.Request(reqCtx, &networkservice.NetworkServiceRequest{Connection: &networkservice.Connection{NetworkService: ns}})
		cancel()
		if err == nil {
			return conn
		}
		lastErr = err
	}
	t.Fatalf("request %s: %v", ns, lastErr)
	return nil
}

func registryClient(t *testing.T, d *sandbox.Domain) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient(grpcutils.Target(d.Registry.URL()), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

func findNSE(ctx context.Context, t *testing.T, cc *grpc.ClientConn, name string) []*registry.NetworkServiceEndpoint {
	t.Helper()
	s, err := registry.NewNetworkServiceEndpointRegistryClient(cc).Find(ctx, &registry.NetworkServiceEndpointQuery{
		NetworkServiceEndpoint: &registry.NetworkServiceEndpoint{Name: name},
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []*registry.NetworkServiceEndpoint
	for {
		r, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r.GetNetworkServiceEndpoint())
	}
}

func findNS(ctx context.Context, t *testing.T, cc *grpc.ClientConn, name string) *registry.NetworkService {
	t.Helper()
	s, err := registry.NewNetworkServiceRegistryClient(cc).Find(ctx, &registry.NetworkServiceQuery{NetworkService: &registry.NetworkService{Name: name}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Recv()
	if err != nil {
		t.Fatalf("network service %s: %v", name, err)
	}
	return r.GetNetworkService()
}

// TestEndpointServesDualStackAddressesAndDNS runs the application against an
// in-process mesh (sandbox nsmgr and forwarder with a fake data plane): it
// registers its services and itself, clients get dual-stack pairs from its
// pools, its DNS configs, a KERNEL mechanism named by it, and cancelling Run
// unregisters it and stops it.
func TestEndpointServesDualStackAddressesAndDNS(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d := sandbox.New(ctx, t)
	node := d.Nodes[0]
	listenOn := &url.URL{Scheme: "unix", Path: filepath.Join(socketDir(t), "nse.sock")}
	cfg := testConfig(node, listenOn)
	logs := &syncBuffer{}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	ran := make(chan error, 1)
	go func() { ran <- app.Run(runCtx, cfg, logger(logs)) }()

	nsc, err := node.NewClient(ctx, "nsc-1")
	if err != nil {
		t.Fatal(err)
	}
	first := request(ctx, t, nsc, "icmp-responder")
	second := request(ctx, t, nsc, "icmp-blue")

	for _, tt := range []struct {
		conn     *networkservice.Connection
		src, dst []string
	}{
		{first, []string{"10.60.0.1/32", "fd60::1/128"}, []string{"10.60.0.0/32", "fd60::/128"}},
		{second, []string{"10.60.0.3/32", "fd60::3/128"}, []string{"10.60.0.2/32", "fd60::2/128"}},
	} {
		ipc := tt.conn.GetContext().GetIpContext()
		if !reflect.DeepEqual(ipc.GetSrcIpAddrs(), tt.src) || !reflect.DeepEqual(ipc.GetDstIpAddrs(), tt.dst) {
			t.Errorf("%s: src %v dst %v, want src %v dst %v", tt.conn.GetNetworkService(), ipc.GetSrcIpAddrs(), ipc.GetDstIpAddrs(), tt.src, tt.dst)
		}
		if len(ipc.GetSrcRoutes()) != 2 || len(ipc.GetDstRoutes()) != 2 {
			t.Errorf("routes src %v dst %v, want one per family", ipc.GetSrcRoutes(), ipc.GetDstRoutes())
		}
		dns := tt.conn.GetContext().GetDnsContext().GetConfigs()
		if len(dns) != 1 || !proto.Equal(dns[0], cfg.DNSConfigs[0]) {
			t.Errorf("dns configs %v", dns)
		}
		if tt.conn.GetNetworkServiceEndpointName() != cfg.Name {
			t.Errorf("endpoint %q", tt.conn.GetNetworkServiceEndpointName())
		}
		segs := tt.conn.GetPath().GetPathSegments()
		if len(segs) != 4 || segs[3].GetName() != cfg.Name {
			t.Errorf("path %v", tt.conn.GetPath())
		}
	}

	// What the forwarder was asked to program: the endpoint side names the
	// interface (the client's name, which is valid) and the endpoint's netns.
	programmed := node.Forwarders[0].Dataplane.Programmed()
	if len(programmed) != 2 {
		t.Fatalf("forwarder programmed %d connections, want 2", len(programmed))
	}
	for _, p := range programmed {
		k := kernelmech.ToMechanism(p.Downstream.GetMechanism())
		if k == nil || k.GetInterfaceName() == "" || k.GetNetNSURL() == "" {
			t.Errorf("endpoint side mechanism %v", p.Downstream.GetMechanism())
		}
	}

	// Registration: the services with their payload, the endpoint with its
	// labels for each service.
	cc := registryClient(t, d)
	for _, ns := range cfg.ServiceNames {
		if got := findNS(ctx, t, cc, ns); got.GetPayload() != "ETHERNET" {
			t.Errorf("network service %v", got)
		}
	}
	nses := findNSE(ctx, t, cc, cfg.Name)
	if len(nses) != 1 {
		t.Fatalf("registry holds %v", nses)
	}
	if got := nses[0].GetNetworkServiceNames(); !reflect.DeepEqual(got, cfg.ServiceNames) {
		t.Errorf("registered services %v", got)
	}
	for _, ns := range cfg.ServiceNames {
		if got := nses[0].GetNetworkServiceLabels()[ns].GetLabels()["app"]; got != "icmp" {
			t.Errorf("labels of %s: %v", ns, nses[0].GetNetworkServiceLabels()[ns])
		}
	}

	// Health on the endpoint's own socket.
	ecc, err := grpc.NewClient(listenOn.String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ecc.Close() }()
	for _, svc := range []string{"", "networkservice.NetworkService", "connection.MonitorConnection"} {
		resp, err := healthpb.NewHealthClient(ecc).Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("health %q: %v, %v", svc, resp, err)
		}
	}

	// The pools are full; Close frees a pair for the next connection.
	fullCtx, fullCancel := context.WithTimeout(ctx, 5*time.Second)
	_, err = nsc.Request(fullCtx, &networkservice.NetworkServiceRequest{Connection: &networkservice.Connection{NetworkService: "icmp-responder"}})
	fullCancel()
	if err == nil || !strings.Contains(err.Error(), "no free addresses") {
		t.Fatalf("third connection with full pools: %v, want no free addresses", err)
	}
	if _, err := nsc.Close(ctx, first); err != nil {
		t.Fatal(err)
	}
	third := request(ctx, t, nsc, "icmp-responder")
	if got := third.GetContext().GetIpContext().GetSrcIpAddrs(); !reflect.DeepEqual(got, []string{"10.60.0.1/32", "fd60::1/128"}) {
		t.Errorf("after Close the next connection got %v, want the freed pair", got)
	}
	for _, c := range []*networkservice.Connection{second, third} {
		if _, err := nsc.Close(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(node.Forwarders[0].Dataplane.Programmed()); n != 0 {
		t.Errorf("%d connections still programmed after Close", n)
	}

	stop()
	select {
	case err := <-ran:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after cancellation")
	}
	if got := findNSE(ctx, t, cc, cfg.Name); len(got) != 0 {
		t.Errorf("NSM_UNREGISTER_ITSELF: still registered: %v", got)
	}
	if _, err := os.Stat(listenOn.Path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket left behind: %v", err)
	}
	out := logs.String()
	for _, want := range []string{"insecure: no TLS", "registered", "connection established", "connection closed", "unregistered"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "insecure: no TLS"); n != 1 {
		t.Errorf("insecure warning logged %d times", n)
	}
}
