// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package authorize

import (
	"context"
	"slices"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/registry/grpcmetadata"
	"github.com/nsmesh/nsmesh/sdk/token"
	"github.com/nsmesh/nsmesh/sdk/tools/log"
)

// ResourceID returns the identity a registry call acts for: the sub of the
// token in path[0], "" when there is none or it is not a JWT.
func ResourceID(p *grpcmetadata.Path) string {
	if p == nil || len(p.PathSegments) == 0 || p.PathSegments[0].Token == "" {
		return ""
	}
	c, err := token.Parse(p.PathSegments[0].Token)
	if err != nil {
		return ""
	}
	return c.Subject
}

// leftSide returns a copy of p up to and including its index.
func leftSide(p *grpcmetadata.Path) *grpcmetadata.Path {
	if p == nil {
		return &grpcmetadata.Path{}
	}
	c := p.Clone()
	if int(c.Index) < len(c.PathSegments) {
		c.PathSegments = c.PathSegments[:c.Index+1]
	}
	return c
}

// check runs every policy; the first denial wins.
func (o *options) check(ctx context.Context, in *Input) error {
	for _, p := range o.policies {
		if err := p.Check(ctx, in); err != nil {
			name := policyName(p)
			log.FromContext(ctx, o.logger).WithFields(map[string]any{
				in.Kind: in.ResourceName, "element": "authorize", "policy": name, "caller": in.ResourceID,
			}).Warnf("denied: %v", err)
			if s, ok := status.FromError(err); ok && s.Code() != codes.Unknown {
				// Policies that decide their own code (opa: Internal for an
				// evaluation error) keep it.
				return status.Errorf(s.Code(), "registry authorize: policy %s: %s", name, s.Message())
			}
			return status.Errorf(codes.PermissionDenied, "registry authorize: policy %s: %v", name, err)
		}
	}
	return nil
}

// expiration returns the expiration_time of an endpoint registration; zero
// for network services, which do not expire.
func expiration(r any) time.Time {
	if nse, ok := r.(*registry.NetworkServiceEndpoint); ok && nse.GetExpirationTime() != nil {
		return nse.GetExpirationTime().AsTime()
	}
	return time.Time{}
}

// nsForms returns the forms of a network service registration r that the
// chain answered with resp, without path_ids (they only say who registered
// it and through which hops); nil for endpoints.
func nsForms(r, resp any) []*registry.NetworkService {
	sent, ok := r.(*registry.NetworkService)
	if !ok {
		return nil
	}
	forms := []*registry.NetworkService{withoutPathIDs(sent)}
	if answered, ok := resp.(*registry.NetworkService); ok && answered != nil {
		forms = append(forms, withoutPathIDs(answered))
	}
	return forms
}

// unchanged reports whether r is a network service registration of one of
// forms.
func unchanged(r any, forms []*registry.NetworkService) bool {
	ns, ok := r.(*registry.NetworkService)
	if !ok {
		return false
	}
	c := withoutPathIDs(ns)
	return slices.ContainsFunc(forms, func(f *registry.NetworkService) bool { return proto.Equal(c, f) })
}

func withoutPathIDs(ns *registry.NetworkService) *registry.NetworkService {
	c := proto.Clone(ns).(*registry.NetworkService)
	c.PathIds = nil
	return c
}
