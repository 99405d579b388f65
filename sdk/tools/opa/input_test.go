// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package opa_test

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/networkservice/authorize"
	"github.com/nsmesh/nsmesh/sdk/registry/adapters"
	regauthorize "github.com/nsmesh/nsmesh/sdk/registry/authorize"
	"github.com/nsmesh/nsmesh/sdk/registry/grpcmetadata"
	"github.com/nsmesh/nsmesh/sdk/registry/memory"
	"github.com/nsmesh/nsmesh/sdk/token"
	"github.com/nsmesh/nsmesh/sdk/tools/log"
	"github.com/nsmesh/nsmesh/sdk/tools/opa"
)

func asJSON(t *testing.T, v ast.Value) any {
	t.Helper()
	x, err := ast.JSON(v)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(x)
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func fromJSON(t *testing.T, s string) any {
	t.Helper()
	var out any
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// The connection input is encoding/json's form of the path (snake_case,
// empty fields left out) plus the peer certificate as PEM.
func TestConnectionInput(t *testing.T) {
	h := newHops(t, "nsc")
	in := &authorize.Input{
		Index: 0,
		Segments: []*networkservice.PathSegment{
			{Name: "nsc", Id: "a", Token: "t0", Expires: &timestamppb.Timestamp{Seconds: 5, Nanos: 7}, Metrics: map[string]string{"k": "v"}},
			{Name: "nsmgr"},
		},
		PeerCert: h.svid["nsc"].Cert,
	}
	certPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: h.svid["nsc"].Cert.Raw}))
	want := fromJSON(t, fmt.Sprintf(`{"index":0,"path_segments":[
		{"name":"nsc","id":"a","token":"t0","expires":{"seconds":5,"nanos":7},"metrics":{"k":"v"}},
		{"name":"nsmgr"}],"auth_info":{"certificate":%q}}`, certPEM))
	if got := asJSON(t, opa.ConnectionInput(in)); !reflect.DeepEqual(got, want) {
		t.Fatalf("input\n%v\nwant\n%v", got, want)
	}
	in.PeerCert = nil
	if got := asJSON(t, opa.ConnectionInput(in)).(map[string]any)["auth_info"]; !reflect.DeepEqual(got, map[string]any{"certificate": ""}) {
		t.Fatalf("auth_info without a peer: %v", got)
	}
}

func TestRegistryInput(t *testing.T) {
	in := &regauthorize.Input{
		Kind: "nse", ResourceName: "nse-1", ResourceID: "spiffe://x/a", Owned: true, Owner: "spiffe://x/a",
		OwnerPathIDs: []string{"spiffe://x/a", "spiffe://x/reg"},
		Path:         &grpcmetadata.Path{Index: 1, PathSegments: []*grpcmetadata.PathSegment{{Token: "t0"}, {}}},
	}
	want := fromJSON(t, `{"resource_id":"spiffe://x/a","resource_name":"nse-1",
		"resource_path_ids_map":{"nse-1":["spiffe://x/a","spiffe://x/reg"]},
		"path_segments":[{"token":"t0"},{}],"index":1,"kind":"nse","unregister":false,"auth_info":{"certificate":""}}`)
	if got := asJSON(t, opa.RegistryInput(in)); !reflect.DeepEqual(got, want) {
		t.Fatalf("input\n%v\nwant\n%v", got, want)
	}
	in.Owned, in.Path, in.Unregister = false, nil, true
	got := asJSON(t, opa.RegistryInput(in)).(map[string]any)
	if !reflect.DeepEqual(got["resource_path_ids_map"], map[string]any{}) || got["index"] != 0.0 || got["unregister"] != true {
		t.Fatalf("unowned input %v", got)
	}
}

// upstream's registry client_allowed policy, in its v0 syntax, decides like
// the native first-registrant policy.
const clientAllowed = `package nsm

default valid = false

valid {
	not input.resource_path_ids_map[input.resource_name]
}

valid {
	input.resource_path_ids_map[input.resource_name][0] == input.resource_id
}
`

func TestUpstreamRegistryPolicy(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := write(t, t.TempDir(), "client_allowed.rego", clientAllowed)
	ps, err := opa.Load(ctx, []string{f})
	if err != nil {
		t.Fatal(err)
	}
	authz := regauthorize.NewNSEServer(regauthorize.WithLogger(log.Discard()), regauthorize.WithPolicies(opa.RegistryPolicies(ps)...))
	c := adapters.NSEServerToClient(chain.NewNSEServer(authz, &pathIDs{}, memory.NewNSEServer(ctx)))
	h := newHops(t, "alice", "bob")
	as := func(who string) context.Context {
		tok, _, err := mustGen(t, h, who).Generate(nil)
		if err != nil {
			t.Fatal(err)
		}
		return grpcmetadata.WithPath(ctx, &grpcmetadata.Path{Index: 1, PathSegments: []*grpcmetadata.PathSegment{{Token: tok}, {}}})
	}
	steps := []struct {
		who        string
		unregister bool
		want       codes.Code
	}{
		{"alice", false, codes.OK},
		{"bob", false, codes.PermissionDenied},
		{"bob", true, codes.PermissionDenied},
		{"alice", false, codes.OK},
		{"alice", true, codes.OK},
		{"bob", false, codes.OK},
	}
	for i, s := range steps {
		var err error
		if s.unregister {
			_, err = c.Unregister(as(s.who), &registry.NetworkServiceEndpoint{Name: "nse-1"})
		} else {
			_, err = c.Register(as(s.who), &registry.NetworkServiceEndpoint{Name: "nse-1"})
		}
		if status.Code(err) != s.want {
			t.Fatalf("step %d (%s, unregister=%v): %v, want %v", i, s.who, s.unregister, err, s.want)
		}
	}
	if filepath.Base(ps[0].File()) != "client_allowed.rego" {
		t.Fatal(ps[0].File())
	}
}

func mustGen(t *testing.T, h *hops, who string) token.Generator {
	t.Helper()
	g, err := h.svid[who].Generator(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// pathIDs sets path_ids to the registrant alone, as updatepath would at the
// first hop.
type pathIDs struct {
	chain.NSEServerLink
}

func (p *pathIDs) Register(ctx context.Context, nse *registry.NetworkServiceEndpoint) (*registry.NetworkServiceEndpoint, error) {
	nse = proto.Clone(nse).(*registry.NetworkServiceEndpoint)
	nse.PathIds = []string{regauthorize.ResourceID(grpcmetadata.PathFromContext(ctx))}
	return p.Next().Register(ctx, nse)
}

func (p *pathIDs) Find(q *registry.NetworkServiceEndpointQuery, srv grpc.ServerStreamingServer[registry.NetworkServiceEndpointResponse]) error {
	return p.Next().Find(q, srv)
}

func (p *pathIDs) Unregister(ctx context.Context, nse *registry.NetworkServiceEndpoint) (*emptypb.Empty, error) {
	return p.Next().Unregister(ctx, nse)
}
