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
	// Unchanged is set, on a server, for a Register of a network service
	// (kind "ns") that has an owner and whose content (name, payload,
	// matches; path_ids aside) is identical to its last registration, as
	// sent or as answered: carrying it out changes nothing but the stored
	// path_ids.
	Unchanged bool
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

// FirstRegistrant denies a call on a name owned by another identity, except
// the Register of a network service identical to the owner's last
// registration (Input.Unchanged): it can neither redefine nor remove the
// service, and it lets every endpoint serving the service keep it
// registered (and heal it) as its own. Endpoints get no such exception: an
// endpoint's name is its address.
func FirstRegistrant() Policy {
	return NewPolicy("first_registrant", func(_ context.Context, in *Input) error {
		if !in.Owned || in.Owner == in.ResourceID {
			return nil
		}
		if in.Kind == "ns" && in.Unchanged && !in.Unregister {
			return nil
		}
		verb := "register"
		if in.Unregister {
			verb = "unregister"
		}
		only := "only the owner may refresh or unregister a name"
		if in.Kind == "ns" {
			only = "only the owner may change or unregister a network service; others may only register it again exactly as it is"
		}
		return fmt.Errorf("%s %q belongs to %s, its first registrant; %s may not %s it "+
			"(%s: choose another name, or wait until the owner unregisters it or its registration expires)",
			in.Noun, in.ResourceName, describeID(in.Owner), describeID(in.ResourceID), verb, only)
	})
}

func describeID(id string) string {
	if id == "" {
		return "an anonymous caller (no token in path[0])"
	}
	return id
}

// CallerTokenSigned denies, when the caller presented a certificate, unless
// the caller's token in the path (at Index-1, from its nsm-client-token) is
// an ES256 JWT signed with that certificate's key whose sub is the
// certificate's SPIFFE ID: a caller can neither pass off another identity's
// token as its own nor sign, with its own key, a token claiming to be
// someone else. Without TLS (development) it cannot apply and allows.
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
		c, err := token.Verify(in.Path.PathSegments[i].Token, in.PeerCert.PublicKey)
		if err != nil {
			return fmt.Errorf("the caller's token at path %d is not signed by its certificate (%s): %w", i, certName(in.PeerCert), err)
		}
		id, err := token.SPIFFEID(in.PeerCert)
		if err != nil {
			return fmt.Errorf("the caller's certificate (%s) has no SPIFFE ID to hold its token's sub %q against: %w", certName(in.PeerCert), c.Subject, err)
		}
		if c.Subject != id {
			return fmt.Errorf("the caller's token at path %d claims sub %s, but the caller's certificate is %s "+
				"(a token must name its signer: send the token your own SVID makes)", i, describeID(c.Subject), id)
		}
		return nil
	})
}

// TokensChained denies when a token of the path up to and including this
// hop is not a JWT, or when one names audiences (aud) and the sub of the
// next hop's token is not among them. The last link checked is the caller's
// token against this hop's own (at Index, made by updatepath): a caller's
// token made for another server does not pass here. A missing token, or a
// token without aud (plaintext development tokens have none), links to
// anything.
func TokensChained() Policy {
	return NewPolicy("tokens_chained", func(_ context.Context, in *Input) error {
		if in.Path == nil {
			return nil
		}
		segs := in.Path.PathSegments
		if last := int(in.Path.Index); last+1 < len(segs) {
			segs = segs[:last+1]
		}
		claims := make([]*token.Claims, len(segs))
		for i, s := range segs {
			if s == nil || s.Token == "" {
				continue
			}
			c, err := token.Parse(s.Token)
			if err != nil {
				return fmt.Errorf("the token at path %d is not a JWT: %w", i, err)
			}
			claims[i] = &c
		}
		for i := 0; i+1 < len(claims); i++ {
			cur, next := claims[i], claims[i+1]
			if cur == nil || next == nil || len(cur.Audience) == 0 {
				continue
			}
			if !cur.HasAudience(next.Subject) {
				what := "the next hop"
				if i+1 == int(in.Path.Index) {
					what = "this registry server"
				}
				return fmt.Errorf("the token at path %d (sub %s) is for %v, but %s at path %d is %s",
					i, describeID(cur.Subject), cur.Audience, what, i+1, describeID(next.Subject))
			}
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
// CallerTokenSigned, TokensChained, then FirstRegistrant.
func ServerPolicies() []Policy {
	return []Policy{CallerTokenSigned(), TokensChained(), FirstRegistrant()}
}
