// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package memory_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/registry/chains/memory"
	"github.com/nsmesh/nsmesh/sdk/registry/internal/regtest"
	"github.com/nsmesh/nsmesh/sdk/token"
)

// The registry holds names for their first registrant unless told otherwise.
func TestOwnershipByDefault(t *testing.T) {
	tests := []struct {
		name     string
		opts     []memory.Option
		wantNS   codes.Code
		wantNSE  codes.Code
		wantURL  string
		wantLoad string
	}{
		{name: "default", wantNS: codes.PermissionDenied, wantNSE: codes.PermissionDenied, wantURL: "tcp://a:1", wantLoad: "IP"},
		{name: "authorize left out", opts: []memory.Option{memory.WithNSAuthorize(nil), memory.WithNSEAuthorize(nil)},
			wantURL: "tcp://b:1", wantLoad: "ETHERNET"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			srv, err := memory.NewServer(ctx, tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			u := regtest.SocketURL(t, "reg.sock")
			regtest.Serve(t, u, srv.NS, srv.NSE)
			as := func(id string) (registry.NetworkServiceRegistryClient, registry.NetworkServiceEndpointRegistryClient) {
				key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
				if err != nil {
					t.Fatal(err)
				}
				gen, err := token.NewJWTGenerator(key, id, time.Hour)
				if err != nil {
					t.Fatal(err)
				}
				cc, err := grpc.NewClient(u.String(), regtest.Insecure(), grpc.WithPerRPCCredentials(token.NewInsecurePerRPCCredentials(gen)))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = cc.Close() })
				return registry.NewNetworkServiceRegistryClient(cc), registry.NewNetworkServiceEndpointRegistryClient(cc)
			}
			aNS, aNSE := as("spiffe://test/a")
			bNS, bNSE := as("spiffe://test/b")
			if _, err := aNS.Register(ctx, &registry.NetworkService{Name: "red", Payload: "IP"}); err != nil {
				t.Fatal(err)
			}
			if _, err := aNSE.Register(ctx, &registry.NetworkServiceEndpoint{Name: "nse-1", Url: "tcp://a:1"}); err != nil {
				t.Fatal(err)
			}
			if _, err := bNS.Register(ctx, &registry.NetworkService{Name: "red", Payload: "ETHERNET"}); status.Code(err) != tt.wantNS {
				t.Fatalf("other identity's NS register: %v, want %v", err, tt.wantNS)
			}
			if _, err := bNSE.Register(ctx, &registry.NetworkServiceEndpoint{Name: "nse-1", Url: "tcp://b:1"}); status.Code(err) != tt.wantNSE {
				t.Fatalf("other identity's NSE register: %v, want %v", err, tt.wantNSE)
			}
			s, _ := aNSE.Find(ctx, &registry.NetworkServiceEndpointQuery{NetworkServiceEndpoint: &registry.NetworkServiceEndpoint{Name: "nse-1"}})
			if got := regtest.All(t, s); len(got) != 1 || got[0].GetNetworkServiceEndpoint().GetUrl() != tt.wantURL {
				t.Fatalf("registry holds %v, want %s", got, tt.wantURL)
			}
			ns, _ := aNS.Find(ctx, &registry.NetworkServiceQuery{NetworkService: &registry.NetworkService{Name: "red"}})
			if got := regtest.All(t, ns); len(got) != 1 || got[0].GetNetworkService().GetPayload() != tt.wantLoad {
				t.Fatalf("registry holds %v, want payload %s", got, tt.wantLoad)
			}
		})
	}
}
