// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package opa

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"maps"
	"slices"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/networkservice/authorize"
	regauthorize "github.com/nsmesh/nsmesh/sdk/registry/authorize"
	"github.com/nsmesh/nsmesh/sdk/registry/grpcmetadata"
)

// ConnectionInput is the input of a network service policy (see the package
// documentation). It is built as a Rego value directly, without a JSON round
// trip.
func ConnectionInput(in *authorize.Input) ast.Value {
	segs := make([]*ast.Term, 0, len(in.Segments))
	for _, s := range in.Segments {
		segs = append(segs, ast.NewTerm(segment(s)))
	}
	return ast.NewObject(
		ast.Item(ast.StringTerm("index"), ast.IntNumberTerm(in.Index)),
		ast.Item(ast.StringTerm("path_segments"), ast.ArrayTerm(segs...)),
		authInfo(in.PeerCert),
	)
}

// authInfo is {"certificate": PEM of cert, or ""}.
func authInfo(cert *x509.Certificate) [2]*ast.Term {
	s := ""
	if cert != nil {
		s = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))
	}
	return ast.Item(ast.StringTerm("auth_info"), ast.ObjectTerm(ast.Item(ast.StringTerm("certificate"), ast.StringTerm(s))))
}

// segment mirrors encoding/json of a PathSegment: snake_case, empty fields
// left out.
func segment(s *networkservice.PathSegment) ast.Object {
	o := ast.NewObject()
	str := func(k, v string) {
		if v != "" {
			o.Insert(ast.StringTerm(k), ast.StringTerm(v))
		}
	}
	str("name", s.GetName())
	str("id", s.GetId())
	str("token", s.GetToken())
	if e := s.GetExpires(); e != nil {
		ts := ast.NewObject()
		if e.GetSeconds() != 0 {
			ts.Insert(ast.StringTerm("seconds"), ast.IntNumberTerm(int(e.GetSeconds())))
		}
		if e.GetNanos() != 0 {
			ts.Insert(ast.StringTerm("nanos"), ast.IntNumberTerm(int(e.GetNanos())))
		}
		o.Insert(ast.StringTerm("expires"), ast.NewTerm(ts))
	}
	if m := s.GetMetrics(); len(m) > 0 {
		mo := ast.NewObject()
		for _, k := range slices.Sorted(maps.Keys(m)) {
			mo.Insert(ast.StringTerm(k), ast.StringTerm(m[k]))
		}
		o.Insert(ast.StringTerm("metrics"), ast.NewTerm(mo))
	}
	return o
}

// RegistryInput is the input of a registry policy (see the package
// documentation).
func RegistryInput(in *regauthorize.Input) ast.Value {
	ids := ast.NewObject()
	if in.Owned {
		terms := make([]*ast.Term, 0, len(in.OwnerPathIDs))
		for _, id := range in.OwnerPathIDs {
			terms = append(terms, ast.StringTerm(id))
		}
		ids.Insert(ast.StringTerm(in.ResourceName), ast.ArrayTerm(terms...))
	}
	p := in.Path
	if p == nil {
		p = &grpcmetadata.Path{}
	}
	segs := make([]*ast.Term, 0, len(p.PathSegments))
	for _, s := range p.PathSegments {
		seg := ast.NewObject()
		if s.Token != "" {
			seg.Insert(ast.StringTerm("token"), ast.StringTerm(s.Token))
		}
		segs = append(segs, ast.NewTerm(seg))
	}
	return ast.NewObject(
		ast.Item(ast.StringTerm("resource_id"), ast.StringTerm(in.ResourceID)),
		ast.Item(ast.StringTerm("resource_name"), ast.StringTerm(in.ResourceName)),
		ast.Item(ast.StringTerm("resource_path_ids_map"), ast.NewTerm(ids)),
		ast.Item(ast.StringTerm("path_segments"), ast.ArrayTerm(segs...)),
		ast.Item(ast.StringTerm("index"), ast.IntNumberTerm(int(p.Index))),
		ast.Item(ast.StringTerm("kind"), ast.StringTerm(in.Kind)),
		ast.Item(ast.StringTerm("unregister"), ast.BooleanTerm(in.Unregister)),
		authInfo(in.PeerCert),
	)
}

type connectionPolicy struct{ p *Policy }

func (c connectionPolicy) Name() string { return c.p.Name() }
func (c connectionPolicy) Check(ctx context.Context, in *authorize.Input) error {
	return c.p.Check(ctx, ConnectionInput(in))
}

type registryPolicy struct{ p *Policy }

func (r registryPolicy) Name() string { return r.p.Name() }
func (r registryPolicy) Check(ctx context.Context, in *regauthorize.Input) error {
	return r.p.Check(ctx, RegistryInput(in))
}

// ConnectionPolicies makes the policies usable by the network service
// authorize elements (authorize.WithAdditionalPolicies).
func ConnectionPolicies(ps []*Policy) []authorize.Policy {
	out := make([]authorize.Policy, 0, len(ps))
	for _, p := range ps {
		out = append(out, connectionPolicy{p})
	}
	return out
}

// RegistryPolicies makes the policies usable by the registry authorize
// elements (authorize.WithAdditionalPolicies, or WithPolicies on clients).
func RegistryPolicies(ps []*Policy) []regauthorize.Policy {
	out := make([]regauthorize.Policy, 0, len(ps))
	for _, p := range ps {
		out = append(out, registryPolicy{p})
	}
	return out
}

var (
	_ authorize.Policy    = connectionPolicy{}
	_ regauthorize.Policy = registryPolicy{}
)
