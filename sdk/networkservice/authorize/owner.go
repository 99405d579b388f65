// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package authorize

import (
	"context"
	"errors"
	"fmt"

	"github.com/nsmesh/nsmesh/sdk/core/metadata"
)

// ownerKey holds the identity a connection belongs to on this hop: the sub
// of segment 0's token on its first Request.
var ownerKey = metadata.NewKey[string]("authorize.owner")

// ConnectionOwner binds a connection to the identity that opened it: the sub
// of the token of path segment 0 (the client; a passthrough keeps it, so
// every hop of the path sees the same client). The first Request of a
// connection on this hop records it in the connection's server metadata; a
// later Request (refresh, heal) or Close whose segment 0 names another
// identity is denied, naming both. Knowing a connection's path is then not
// enough to close or re-request it; nor is knowing the client's name and
// connection id, with which a restarted client reaches its connection
// (updatepath derives the segment ids after it).
//
// Where the owner comes from: at the first hop (index 1) segment 0 holds the
// caller's own token, which PrevTokenSigned has verified against the
// caller's certificate, so another member cannot claim the owner there. At
// later hops segment 0 is the client's token as the path carries it, and
// TokensChained ties the caller's verified token to the one before it: for
// a Close, begin passes the stored connection, so only the caller's token is
// new and it must be named by the stored previous token's aud. A member that
// calls a later hop directly with a re-Request can still forge the
// segments between segment 0 and its own, which no hop can verify; which
// identities may call forwarders and endpoints is a deployment policy
// (WithAdditionalPolicies).
//
// The owner is recorded per connection, not per caller: a heal that
// re-requests through another forwarder (a new previous hop) keeps the owner
// and passes; an nsmgr that restarted holds no metadata, so the first
// Request it sees records the owner again. Events begin injects (the
// timeout's Close, server-side re-Requests) run with the stored connection
// and the last Request's context, so they carry the recorded owner.
//
// It needs begin before the element (metadata); without it, and when this
// hop is segment 0 itself (the caller added no segment), it cannot apply
// and allows. Without TLS a caller's token is not verified, so the owner is
// only what the tokens claim. Server side only.
func ConnectionOwner() Policy {
	return NewPolicy("connection_owner", func(ctx context.Context, in *Input) error {
		if in.Index < 1 || metadata.FromContext(ctx, metadata.Server) == nil {
			return nil
		}
		sub, err := subjectOf(in, 0)
		if err != nil {
			return err
		}
		owner, ok := ownerKey.Load(ctx, metadata.Server)
		if !ok {
			if !in.Closing {
				// Recorded before the rest of the chain runs: begin drops the
				// metadata of a first Request that fails, so only a successful
				// one leaves the owner behind.
				ownerKey.Store(ctx, metadata.Server, sub)
			}
			return nil
		}
		if sub == owner {
			return nil
		}
		verb := "re-request"
		if in.Closing {
			verb = "close"
		}
		return fmt.Errorf("the connection belongs to %s, who opened it (segment 0 of its first Request); "+
			"%s (segment 0 of this call) may not %s it: only the owner may refresh or close a connection",
			describeSub(owner), describeSub(sub), verb)
	})
}

// subjectOf returns the sub of segment i's token, "" when it has none.
func subjectOf(in *Input, i int) (string, error) {
	c, err := in.Claims(i)
	if errors.Is(err, ErrNoToken) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("token of %s cannot be read: %w", in.describe(i), err)
	}
	return c.Subject, nil
}

func describeSub(sub string) string {
	if sub == "" {
		return "an anonymous client (no token in segment 0)"
	}
	return sub
}
