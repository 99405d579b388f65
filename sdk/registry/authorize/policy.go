// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package authorize

import (
	"context"
	"crypto/x509"
	"fmt"

	"github.com/nsmesh/nsmesh/sdk/registry/grpcmetadata"
	"github.com/nsmesh/nsmesh/sdk/token"
)

// Input is what a registry policy decides on.
type Input struct {
	// Kind is "ns" or "nse"; Noun names it for messages.
	Kind, Noun string
	// ResourceName is the name registered or unregistered.
	ResourceName string
	// ResourceID is the identity the call acts for: the sub of path[0]'s
	// token, "" when there is none.
	ResourceID string
	// Owned tells whether the name has an owner; Owner and OwnerPathIDs are
	// that owner and the path_ids of its last registration. A client keeps
	// no owners: Owned is false there.
	Owned        bool
	Owner        string
	OwnerPathIDs []string
	// Path is the registry path: on a server the left side (up to and
	// including this hop), on a client the path the server returned.
	Path *grpcmetadata.Path
	// Unregister is set for Unregister calls.
	Unregister bool
	// PeerCert is the leaf certificate of the other side of the gRPC call
	// (the caller on a server, the server on a client); nil without TLS.
	PeerCert *x509.Certificate
}

// Policy is one registry authorization rule: nil allows, an error says why
// it denies.
type Policy interface {
	Check(ctx context.Context, in *Input) error
}

// Named is implemented by policies that have a name for denial messages.
type Named interface {
	Name() string
}

type policy struct {
	name  string
	check func(ctx context.Context, in *Input) error
}

// NewPolicy returns a Policy called name that runs check.
func NewPolicy(name string, check func(ctx context.Context, in *Input) error) Policy {
	return &policy{name: name, check: check}
}

func (p *policy) Check(ctx context.Context, in *Input) error { return p.check(ctx, in) }
func (p *policy) Name() string                               { return p.name }

func policyName(p Policy) string {
	if n, ok := p.(Named); ok {
		return n.Name()
	}
	return fmt.Sprintf("%T", p)
}

// FirstRegistrant denies a call on a name owned by another identity.
func FirstRegistrant() Policy {
	return NewPolicy("first_registrant", func(_ context.Context, in *Input) error {
		if !in.Owned || in.Owner == in.ResourceID {
			return nil
		}
		verb := "register"
		if in.Unregister {
			verb = "unregister"
		}
		return fmt.Errorf("%s %q belongs to %s, its first registrant; %s may not %s it "+
			"(only the owner may refresh or unregister a name: choose another name, or wait until the owner unregisters it or its registration expires)",
			in.Noun, in.ResourceName, describeID(in.Owner), describeID(in.ResourceID), verb)
	})
}

func describeID(id string) string {
	if id == "" {
		return "an anonymous caller (no token in path[0])"
	}
	return id
}

// CallerTokenSigned denies, when the caller presented a certificate, unless
// the caller's token in the path (at Index-1) is signed with that
// certificate's key: a caller cannot pass off another identity's token as
// its own. Without TLS (development) it cannot apply and allows.
func CallerTokenSigned() Policy {
	return NewPolicy("caller_token_signed", func(_ context.Context, in *Input) error {
		if in.PeerCert == nil {
			return nil
		}
		i := -1
		if in.Path != nil {
			i = int(in.Path.Index) - 1
		}
		if i < 0 || i >= len(in.Path.PathSegments) || in.Path.PathSegments[i].Token == "" {
			return fmt.Errorf("the caller (%s) presented a certificate but no token (nsm-client-token)", certName(in.PeerCert))
		}
		if _, err := token.Verify(in.Path.PathSegments[i].Token, in.PeerCert.PublicKey); err != nil {
			return fmt.Errorf("the caller's token at path %d is not signed by its certificate (%s): %w", i, certName(in.PeerCert), err)
		}
		return nil
	})
}

func certName(c *x509.Certificate) string {
	if id, err := token.SPIFFEID(c); err == nil {
		return id
	}
	return c.Subject.String()
}

// ServerPolicies returns the default policies of the server elements:
// CallerTokenSigned, then FirstRegistrant.
func ServerPolicies() []Policy {
	return []Policy{CallerTokenSigned(), FirstRegistrant()}
}
