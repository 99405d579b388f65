// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package opa_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/registry/adapters"
	regauthorize "github.com/nsmesh/nsmesh/sdk/registry/authorize"
	"github.com/nsmesh/nsmesh/sdk/registry/grpcmetadata"
	"github.com/nsmesh/nsmesh/sdk/registry/memory"
	"github.com/nsmesh/nsmesh/sdk/token"
	"github.com/nsmesh/nsmesh/sdk/tools/log"
	"github.com/nsmesh/nsmesh/sdk/tools/opa"
)

// A caller that puts a token naming the owner in front of its own passes the
// native checks (the registry cannot verify path[0] of a forwarded call);
// the shipped registry_forwarders policy stops it while the listed nsmgr
// still forwards for the owner.
func TestRegistryForwardersExample(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := newHops(t, "owner", "mallory", "nsmgr/a")
	src, err := os.ReadFile(filepath.Join("..", "..", "..", "deploy", "policies", "registry_forwarders.rego"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	f := write(t, dir, "registry_forwarders.rego", string(src))
	write(t, dir, "registry_forwarders.json", `{"registry_forwarders":["spiffe://test.com/nsmgr/"]}`)
	ps, err := opa.Load(ctx, []string{f})
	if err != nil {
		t.Fatal(err)
	}
	sign := func(signer, sub string) string {
		s, err := token.Sign(h.svid[signer].Key, token.Claims{Subject: "spiffe://test.com/" + sub, Expires: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// call is what the registry sees after its updatepath: the path, the
	// caller's certificate.
	call := func(caller string, path ...string) context.Context {
		p := &grpcmetadata.Path{Index: uint32(len(path))}
		for _, tok := range path {
			p.PathSegments = append(p.PathSegments, &grpcmetadata.PathSegment{Token: tok})
		}
		p.PathSegments = append(p.PathSegments, &grpcmetadata.PathSegment{})
		return peer.NewContext(grpcmetadata.WithPath(ctx, p), &peer.Peer{AuthInfo: h.svid[caller].AuthInfo()})
	}
	for _, tt := range []struct {
		name       string
		rego       bool
		wantAttack codes.Code
	}{
		{name: "native policies alone cannot tell", rego: false, wantAttack: codes.OK},
		{name: "with registry_forwarders", rego: true, wantAttack: codes.PermissionDenied},
	} {
		t.Run(tt.name, func(t *testing.T) {
			opts := []regauthorize.Option{regauthorize.WithLogger(log.Discard())}
			if tt.rego {
				opts = append(opts, regauthorize.WithAdditionalPolicies(opa.RegistryPolicies(ps)...))
			}
			c := adapters.NSEServerToClient(chain.NewNSEServer(regauthorize.NewNSEServer(opts...), memory.NewNSEServer(ctx)))
			// The owner registers directly, then refreshes through its nsmgr.
			if _, err := c.Register(call("owner", sign("owner", "owner")), &registry.NetworkServiceEndpoint{Name: "nse-1", Url: "tcp://owner:1"}); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Register(call("nsmgr/a", sign("owner", "owner"), sign("nsmgr/a", "nsmgr/a")), &registry.NetworkServiceEndpoint{Name: "nse-1", Url: "tcp://nsmgr-a:5001"}); err != nil {
				t.Fatalf("the owner's refresh through its nsmgr: %v", err)
			}
			// Mallory forges a token naming the owner (signed with her own
			// key: she has no other) and puts her real token behind it.
			_, err := c.Unregister(call("mallory", sign("mallory", "owner"), sign("mallory", "mallory")), &registry.NetworkServiceEndpoint{Name: "nse-1"})
			if status.Code(err) != tt.wantAttack {
				t.Fatalf("forged forwarding: %v, want %v", err, tt.wantAttack)
			}
			if tt.wantAttack == codes.OK {
				return
			}
			if !strings.Contains(err.Error(), "policy registry_forwarders: no sufficient privileges") ||
				!strings.Contains(err.Error(), "spiffe://test.com/mallory may register only for itself, not forward for spiffe://test.com/owner") {
				t.Fatalf("denial %q does not explain", err)
			}
			s, err := c.Find(ctx, &registry.NetworkServiceEndpointQuery{NetworkServiceEndpoint: &registry.NetworkServiceEndpoint{Name: "nse-1"}})
			if err != nil {
				t.Fatal(err)
			}
			if got, err := s.Recv(); err != nil || got.GetNetworkServiceEndpoint().GetUrl() != "tcp://nsmgr-a:5001" {
				t.Fatalf("registration after the refused attack: %v, %v", got, err)
			}
			// Mallory acting for herself is fine.
			if _, err := c.Register(call("mallory", sign("mallory", "mallory")), &registry.NetworkServiceEndpoint{Name: "nse-m"}); err != nil {
				t.Fatalf("mallory for herself: %v", err)
			}
		})
	}
}
