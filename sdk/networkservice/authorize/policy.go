// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package authorize

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/token"
)

// Input is what a policy decides on.
type Input struct {
	// Segments are the checked segments: path[:index+1] on a server, the
	// whole returned path on a client.
	Segments []*networkservice.PathSegment
	// Index is the position of the checking hop's own segment.
	Index int
	// PeerCert is the leaf certificate of the other side of the gRPC call:
	// the caller on a server, the server on a client; nil without TLS.
	PeerCert *x509.Certificate
	// Now is the time to check expiry against.
	Now time.Time
	// Closing is set when the call is a Close.
	Closing bool

	parsed []parsed
}

type parsed struct {
	done   bool
	claims token.Claims
	err    error
}

// ErrNoToken is returned by Input.Claims for a segment without token.
var ErrNoToken = errors.New("authorize: segment has no token")

// Claims returns the unverified claims of the token of Segments[i], parsed at
// most once per Input however many policies ask.
func (in *Input) Claims(i int) (token.Claims, error) {
	if i < 0 || i >= len(in.Segments) {
		return token.Claims{}, fmt.Errorf("authorize: no segment %d in a path of %d", i, len(in.Segments))
	}
	if in.Segments[i].GetToken() == "" {
		return token.Claims{}, ErrNoToken
	}
	if in.parsed == nil {
		in.parsed = make([]parsed, len(in.Segments))
	}
	p := &in.parsed[i]
	if !p.done {
		p.claims, p.err = token.Parse(in.Segments[i].GetToken())
		p.done = true
	}
	return p.claims, p.err
}

// describe names segment i for messages.
func (in *Input) describe(i int) string {
	return fmt.Sprintf("segment %d (%s)", i, in.Segments[i].GetName())
}

// Policy is one authorization rule. Check returns nil to allow and an error
// saying why to deny.
type Policy interface {
	Check(ctx context.Context, in *Input) error
}

// Named is implemented by policies that have a name for denial messages;
// others are named by their type.
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

// TokensValid denies when a token present in the path is not a JWT.
func TokensValid() Policy {
	return NewPolicy("tokens_valid", func(_ context.Context, in *Input) error {
		for i := range in.Segments {
			if _, err := in.Claims(i); err != nil && !errors.Is(err, ErrNoToken) {
				return fmt.Errorf("token of %s is not a JWT: %w", in.describe(i), err)
			}
		}
		return nil
	})
}

// TokensUnexpired denies when a token present in the path has expired or has
// no expiry. It allows every Close (see the package documentation).
func TokensUnexpired() Policy {
	return NewPolicy("tokens_unexpired", func(_ context.Context, in *Input) error {
		if in.Closing {
			return nil
		}
		for i := range in.Segments {
			c, err := in.Claims(i)
			if errors.Is(err, ErrNoToken) {
				continue
			}
			if err != nil {
				return fmt.Errorf("token of %s cannot be read: %w", in.describe(i), err)
			}
			if c.Expires.IsZero() {
				return fmt.Errorf("token of %s has no expiry", in.describe(i))
			}
			if !in.Now.Before(c.Expires) {
				return fmt.Errorf("token of %s expired at %s (now %s)", in.describe(i),
					c.Expires.UTC().Format(time.RFC3339), in.Now.UTC().Format(time.RFC3339))
			}
		}
		return nil
	})
}

// TokensChained denies when a token names audiences and the subject of the
// next segment's token is not among them.
func TokensChained() Policy {
	return NewPolicy("tokens_chained", func(_ context.Context, in *Input) error {
		for x := 0; x+1 < len(in.Segments); x++ {
			cur, err := in.Claims(x)
			if err != nil || len(cur.Audience) == 0 {
				continue
			}
			next, err := in.Claims(x + 1)
			if err != nil {
				continue
			}
			if !cur.HasAudience(next.Subject) {
				return fmt.Errorf("token of %s is for %v, but %s is signed by %q",
					in.describe(x), cur.Audience, in.describe(x+1), next.Subject)
			}
		}
		return nil
	})
}

// PrevTokenSigned denies, when the caller presented a certificate, unless the
// previous segment's token is signed with that certificate's key and its sub
// is the certificate's SPIFFE ID.
func PrevTokenSigned() Policy {
	return NewPolicy("prev_token_signed", func(_ context.Context, in *Input) error {
		return signedBy(in, in.Index-1, "caller")
	})
}

// NextTokenSigned denies, when the server presented a certificate, unless the
// next segment's token is signed with that certificate's key and its sub is
// the certificate's SPIFFE ID.
func NextTokenSigned() Policy {
	return NewPolicy("next_token_signed", func(_ context.Context, in *Input) error {
		return signedBy(in, in.Index+1, "server")
	})
}

func signedBy(in *Input, i int, who string) error {
	if in.PeerCert == nil {
		return nil
	}
	if i < 0 || i >= len(in.Segments) {
		return fmt.Errorf("the %s presented a certificate but the path has no segment %d to hold its token", who, i)
	}
	tok := in.Segments[i].GetToken()
	if tok == "" {
		return fmt.Errorf("%s has no token of the %s", in.describe(i), who)
	}
	c, err := token.Verify(tok, in.PeerCert.PublicKey)
	if err != nil {
		return fmt.Errorf("token of %s is not signed by the %s's certificate (%s): %w",
			in.describe(i), who, certName(in.PeerCert), err)
	}
	// The key proves who signed; the sub must say the same, or a member could
	// sign, with its own key, a token naming another identity.
	id, err := token.SPIFFEID(in.PeerCert)
	if err != nil {
		return fmt.Errorf("the %s's certificate (%s) has no SPIFFE ID to hold the sub %q of %s against: %w",
			who, certName(in.PeerCert), c.Subject, in.describe(i), err)
	}
	if c.Subject != id {
		return fmt.Errorf("token of %s is signed by the %s's certificate (%s) but claims sub %q: a token must name its signer",
			in.describe(i), who, id, c.Subject)
	}
	return nil
}

func certName(c *x509.Certificate) string {
	if id, err := token.SPIFFEID(c); err == nil {
		return id
	}
	return c.Subject.String()
}

// ServerPolicies returns the default policies of NewServer. ConnectionOwner
// comes last: it records the owner only of a Request the token policies
// allowed.
func ServerPolicies() []Policy {
	return []Policy{TokensValid(), TokensUnexpired(), TokensChained(), PrevTokenSigned(), ConnectionOwner()}
}

// ClientPolicies returns the default policies of NewClient.
func ClientPolicies() []Policy {
	return []Policy{TokensValid(), TokensUnexpired(), TokensChained(), NextTokenSigned()}
}
