// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package authorize

import (
	"context"
	"crypto/x509"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/tools/log"
)

// input builds the Input for conn; leftOnly cuts the path after index.
func (o *options) input(conn *networkservice.Connection, leftOnly bool, cert *x509.Certificate, closing bool) (*Input, error) {
	segs := conn.GetPath().GetPathSegments()
	idx := uint64(conn.GetPath().GetIndex())
	if idx >= uint64(len(segs)) {
		return nil, status.Errorf(codes.InvalidArgument,
			"authorize: path index %d is outside the path of %d segments", idx, len(segs))
	}
	if leftOnly {
		segs = segs[:idx+1]
	}
	return &Input{Segments: segs, Index: int(idx), PeerCert: cert, Now: o.now(), Closing: closing}, nil
}

// check runs every policy; the first denial wins.
func (o *options) check(ctx context.Context, in *Input, conn *networkservice.Connection) error {
	for _, p := range o.policies {
		if err := p.Check(ctx, in); err != nil {
			name := policyName(p)
			log.FromContext(ctx, o.logger).WithFields(map[string]any{
				"conn": conn.GetId(), "element": "authorize", "policy": name,
			}).Warnf("denied: %v", err)
			if st, ok := status.FromError(err); ok && st.Code() != codes.Unknown {
				// Policies that decide their own code (opa: Internal for an
				// evaluation error) keep it.
				return status.Errorf(st.Code(), "authorize: policy %s: %s", name, st.Message())
			}
			return status.Errorf(codes.PermissionDenied, "authorize: policy %s: %v", name, err)
		}
	}
	return nil
}
