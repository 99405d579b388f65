// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package sandbox_test

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/sandbox"
	"github.com/nsmesh/nsmesh/sdk/token"
	"github.com/nsmesh/nsmesh/sdk/tools/grpcutils"
)

// endpointURL returns the URL the registry holds for the endpoint name, ""
// when it holds none.
func endpointURL(ctx context.Context, t *testing.T, d *sandbox.Domain, name string) string {
	t.Helper()
	id, err := d.NewIdentity("observer")
	if err != nil {
		t.Fatal(err)
	}
	cc, err := grpc.NewClient(grpcutils.Target(d.Registry.URL()), id.DialOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	stream, err := registry.NewNetworkServiceEndpointRegistryClient(cc).Find(shortCtx(ctx, t), &registry.NetworkServiceEndpointQuery{
		NetworkServiceEndpoint: &registry.NetworkServiceEndpoint{Name: name},
	})
	if err != nil {
		t.Fatal(err)
	}
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return ""
		}
		if err != nil {
			t.Fatal(err)
		}
		if nse := resp.GetNetworkServiceEndpoint(); nse.GetName() == name {
			return nse.GetUrl()
		}
	}
}

// A member of the trust domain signs, with its own SVID key, a token that
// claims another member's identity, and sends it as its nsm-client-token to
// take over or remove that member's endpoint, to the registry directly or
// through an nsmgr. Every hop checks the caller's token against the
// caller's certificate (sub and signature), so each attempt is refused
// with PermissionDenied and the registration stays as it was.
func TestAttackRegistryTokenForgeryIsDenied(t *testing.T) {
	ctx, d, _, _ := mtlsDomain(t, 1)
	owner, err := d.NewIdentity("owner-a")
	if err != nil {
		t.Fatal(err)
	}
	evil, err := d.NewIdentity("evil-b")
	if err != nil {
		t.Fatal(err)
	}
	const name, ownerURL = "nse-of-a", "tcp://10.0.0.1:5001"
	ccA, err := grpc.NewClient(grpcutils.Target(d.Registry.URL()), owner.DialOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer ccA.Close()
	if _, err := registry.NewNetworkServiceEndpointRegistryClient(ccA).Register(ctx, &registry.NetworkServiceEndpoint{
		Name: name, NetworkServiceNames: []string{"red"}, Url: ownerURL,
	}); err != nil {
		t.Fatal(err)
	}

	svid, err := evil.Source().GetX509SVID()
	if err != nil {
		t.Fatal(err)
	}
	evilKey := svid.PrivateKey.(*ecdsa.PrivateKey)
	registryID := "spiffe://" + sandbox.TrustDomain + "/registry"
	sign := func(sub string, aud ...string) func(string) string {
		tok, err := token.Sign(evilKey, token.Claims{Subject: sub, Audience: aud, Expires: time.Now().Add(time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		return func(string) string { return tok }
	}
	nsmgrID := "spiffe://" + sandbox.TrustDomain + "/nsmgr-" + d.Nodes[0].Name

	for _, tt := range []struct {
		name string
		to   *url.URL
		make func(real string) string
		deny []string
	}{
		{"own key, claiming the owner, to the registry", d.Registry.URL(), sign(owner.ID(), registryID),
			[]string{"caller_token_signed", "claims sub " + owner.ID(), "certificate is " + evil.ID()}},
		{"own key, claiming the owner, through the nsmgr", d.Nodes[0].NSMgr.UnixURL(), sign(owner.ID(), nsmgrID),
			[]string{"caller_token_signed", "claims sub " + owner.ID(), "certificate is " + evil.ID()}},
		{"own key, claiming the owner, without aud", d.Registry.URL(), sign(owner.ID()),
			[]string{"caller_token_signed", "claims sub " + owner.ID()}},
		{"own identity, token made for another server", d.Registry.URL(), sign(evil.ID(), nsmgrID),
			[]string{"tokens_chained", "is for [" + nsmgrID + "]", "this registry server at path 1 is " + registryID}},
		{"own honest token", d.Registry.URL(), func(real string) string { return real },
			[]string{"first_registrant", owner.ID(), evil.ID()}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cc, err := grpc.NewClient(grpcutils.Target(tt.to), grpc.WithTransportCredentials(evil.ClientCredentials()),
				grpc.WithPerRPCCredentials(forged{gen: evil.TokenGenerator(), make: tt.make}))
			if err != nil {
				t.Fatal(err)
			}
			defer cc.Close()
			c := registry.NewNetworkServiceEndpointRegistryClient(cc)
			_, regErr := c.Register(shortCtx(ctx, t), &registry.NetworkServiceEndpoint{
				Name: name, NetworkServiceNames: []string{"red"}, Url: "tcp://10.6.6.6:666",
			})
			_, unregErr := c.Unregister(shortCtx(ctx, t), &registry.NetworkServiceEndpoint{Name: name})
			for op, err := range map[string]error{"register": regErr, "unregister": unregErr} {
				st := status.Convert(err)
				if st.Code() != codes.PermissionDenied {
					t.Fatalf("%s: %v, want PermissionDenied", op, err)
				}
				for _, part := range tt.deny {
					if !strings.Contains(st.Message(), part) {
						t.Fatalf("%s: %q does not name %q", op, st.Message(), part)
					}
				}
				t.Logf("%s denied: %s", op, st.Message())
			}
			if got := endpointURL(ctx, t, d, name); got != ownerURL {
				t.Fatalf("the registry holds %q for %s, want the owner's %q", got, name, ownerURL)
			}
		})
	}

	// The owner itself still can.
	if _, err := registry.NewNetworkServiceEndpointRegistryClient(ccA).Unregister(ctx, &registry.NetworkServiceEndpoint{Name: name}); err != nil {
		t.Fatalf("the owner's Unregister: %v", err)
	}
	if got := endpointURL(ctx, t, d, name); got != "" {
		t.Fatalf("still registered after the owner's Unregister: %q", got)
	}
}
