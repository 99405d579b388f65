// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package app_test

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/cmd-nse-icmp/internal/app"
	"github.com/nsmesh/nsmesh/sdk/sandbox"
	"github.com/nsmesh/nsmesh/sdk/tools/opa"
	"github.com/nsmesh/nsmesh/sdk/tools/spiffe"
)

// With the shipped allowed_clients policy in NSM_AUTHORIZE_POLICIES, a listed
// client connects and a client not on the list is refused with a message
// naming it; the refused request leaves nothing behind at the endpoint (no
// addresses taken, nothing programmed).
func TestAllowedClientsPolicy(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Over mTLS, so that the identities the policy sees are the clients'
	// certificates.
	d := sandbox.New(ctx, t, sandbox.WithMTLS())
	node := d.Nodes[0]

	// The shipped policy, with a list naming one sandbox client.
	src, err := os.ReadFile(filepath.Join("..", "..", "..", "deploy", "policies", "allowed_clients.rego"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	policy := filepath.Join(dir, "allowed_clients.rego")
	allowed := "spiffe://" + sandbox.TrustDomain + "/nsc-allowed"
	if err := os.WriteFile(policy, src, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "allowed_clients.json"), []byte(`{"allowed_clients":["`+allowed+`"]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(node, &url.URL{Scheme: "unix", Path: filepath.Join(socketDir(t), "nse.sock")})
	if cfg.AuthorizePolicies, err = opa.LoadEnv(ctx, "NSM_AUTHORIZE_POLICIES", policy); err != nil {
		t.Fatal(err)
	}
	svidDir, err := d.WriteSVIDDir(cfg.Name)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Identity = spiffe.Config{Mode: spiffe.ModeFiles, SVIDDir: svidDir}
	logs := &syncBuffer{}
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- app.Run(runCtx, cfg, logger(logs)) }()
	defer func() {
		stop()
		if err := <-ran; err != nil {
			t.Error(err)
		}
	}()

	good, err := node.NewClient(ctx, "nsc-allowed")
	if err != nil {
		t.Fatal(err)
	}
	first := request(ctx, t, good, "icmp-responder")

	bad, err := node.NewClient(ctx, "nsc-intruder")
	if err != nil {
		t.Fatal(err)
	}
	reqCtx, reqCancel := context.WithTimeout(ctx, 5*time.Second)
	_, err = bad.Request(reqCtx, &networkservice.NetworkServiceRequest{Connection: &networkservice.Connection{NetworkService: "icmp-responder"}})
	reqCancel()
	if status.Code(err) != codes.PermissionDenied ||
		!strings.Contains(err.Error(), "policy allowed_clients: no sufficient privileges") ||
		!strings.Contains(err.Error(), "client spiffe://"+sandbox.TrustDomain+"/nsc-intruder is not on the allowed list") {
		t.Fatalf("client not on the list: %v, want PermissionDenied naming it", err)
	}
	if n := len(node.Forwarders[0].Dataplane.Programmed()); n != 1 {
		t.Fatalf("forwarder programmed %d connections, want only the allowed one", n)
	}
	// The refused request took no addresses: the next allowed connection
	// gets the second pair of the pools.
	second := request(ctx, t, good, "icmp-blue")
	if got := second.GetContext().GetIpContext().GetSrcIpAddrs(); len(got) == 0 || got[0] != "10.60.0.3/32" {
		t.Fatalf("second allowed connection got %v, want the second pair", got)
	}
	for _, c := range []*networkservice.Connection{first, second} {
		if _, err := good.Close(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.Contains(logs.String(), "nsc-intruder") {
		t.Errorf("the endpoint did not log the refusal:\n%s", logs)
	}
}

// A second endpoint (another identity) serving the same network services
// registers them too when it defines them the same way: then it keeps them
// registered after the first endpoint is gone and the registry restarted
// empty (issue 6). With another definition the registry refuses to let it
// change them, and it serves them as the first endpoint registered them.
func TestSharedServiceOwnedByAnotherEndpoint(t *testing.T) {
	tests := []struct {
		name     string
		payload  string // of the second endpoint
		wantWarn bool
	}{
		{name: "same definition", payload: "ETHERNET"},
		{name: "another definition", payload: "IP", wantWarn: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			d := sandbox.New(ctx, t)
			node := d.Nodes[0]
			var (
				logs  []*syncBuffer
				stops []context.CancelFunc
				rans  []chan error
			)
			for _, name := range []string{"icmp-a", "icmp-b"} {
				cfg := testConfig(node, &url.URL{Scheme: "unix", Path: filepath.Join(socketDir(t), "nse.sock")})
				cfg.Name = name
				if name == "icmp-b" {
					cfg.Payload = tt.payload
				}
				l := &syncBuffer{}
				logs = append(logs, l)
				runCtx, stop := context.WithCancel(ctx)
				ran := make(chan error, 1)
				stops, rans = append(stops, stop), append(rans, ran)
				go func() { ran <- app.Run(runCtx, cfg, logger(l)) }()
				// Register one after the other, so that icmp-a is the first.
				cc := registryClient(t, d)
				for deadline := time.Now().Add(15 * time.Second); len(findNSE(ctx, t, cc, name)) == 0; time.Sleep(50 * time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatalf("%s did not register:\n%s", name, l)
					}
				}
			}
			stopped := make([]bool, len(stops))
			stopEndpoint := func(i int) {
				stops[i]()
				if err := <-rans[i]; err != nil {
					t.Error(err)
				}
				stopped[i] = true
			}
			defer func() {
				for i := range stops {
					if !stopped[i] {
						stopEndpoint(i)
					}
				}
			}()
			cc := registryClient(t, d)
			if got := findNS(ctx, t, cc, "icmp-responder"); got.GetPayload() != "ETHERNET" {
				t.Fatalf("network service changed by the second endpoint: %v", got)
			}
			const warning = `network service \"icmp-responder\" is registered by another identity`
			if got := strings.Contains(logs[1].String(), warning); got != tt.wantWarn {
				t.Errorf("the second endpoint warned: %v, want %v:\n%s", got, tt.wantWarn, logs[1])
			}
			if strings.Contains(logs[0].String(), "registered by another identity") {
				t.Errorf("the first endpoint warned:\n%s", logs[0])
			}
			if tt.wantWarn {
				return
			}
			// The first endpoint, the services' owner, is gone; the registry
			// restarts empty. The second endpoint registers the services again.
			stopEndpoint(0)
			if err := d.Registry.Restart(ctx); err != nil {
				t.Fatal(err)
			}
			for _, ns := range []string{"icmp-responder", "icmp-blue"} {
				for deadline := time.Now().Add(10 * time.Second); !nsRegistered(ctx, cc, ns); time.Sleep(50 * time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatalf("network service %s not registered again after the registry restart:\n%s", ns, logs[1])
					}
				}
			}
		})
	}
}

// nsRegistered reports whether the registry holds the network service name.
func nsRegistered(ctx context.Context, cc *grpc.ClientConn, name string) bool {
	s, err := registry.NewNetworkServiceRegistryClient(cc).Find(ctx, &registry.NetworkServiceQuery{NetworkService: &registry.NetworkService{Name: name}})
	if err != nil {
		return false
	}
	r, err := s.Recv()
	return err == nil && r.GetNetworkService().GetName() == name
}
