// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package sandbox

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/nsmesh/nsmesh/sdk/token"
	"github.com/nsmesh/nsmesh/sdk/tools/spiffe"
	"github.com/nsmesh/nsmesh/sdk/tools/spiffe/devca"
)

// TrustDomain is the SPIFFE trust domain of sandbox identities; component
// name is spiffe://<TrustDomain>/<name>.
const TrustDomain = "sandbox.nsmesh.test"

// DefaultSVIDLifetime is the lifetime of the SVIDs of a WithMTLS domain.
const DefaultSVIDLifetime = time.Hour

// WithMTLS runs every hop over mutual TLS: each component gets an X.509-SVID
// from the domain's in-memory development CA (spiffe.Identity, the code the
// binaries use), and sends path tokens signed with its SVID key
// (token.NewPerRPCCredentials), so that authorize's PrevTokenSigned and
// NextTokenSigned really check signatures against peer certificates.
// Without it the domain is plaintext with insecure per-RPC tokens.
func WithMTLS() Option { return func(o *options) { o.mtls = true } }

// WithSVIDLifetime sets the lifetime of the SVIDs WithMTLS issues
// (DefaultSVIDLifetime); tokens never outlive their signer's SVID.
func WithSVIDLifetime(d time.Duration) Option { return func(o *options) { o.svidLifetime = d } }

// identity is the signing key and SPIFFE ID of one component, and with
// mTLS its SVID source and credentials.
type identity struct {
	id    string
	gen   token.Generator
	src   *spiffe.MemorySource // nil in plaintext
	ident *spiffe.Identity     // nil in plaintext
}

// idents are the identities a domain issued, for RotateSVIDs.
type idents struct {
	mu   sync.Mutex
	list []*identity
}

func (d *Domain) newIdentity(name string) (*identity, error) {
	id := fmt.Sprintf("spiffe://%s/%s", TrustDomain, name)
	if d.ca == nil {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		gen, err := token.NewJWTGenerator(key, id, d.o.tokenLifetime)
		if err != nil {
			return nil, err
		}
		return &identity{id: id, gen: gen}, nil
	}
	svid, err := d.ca.Issue(spiffeid.RequireFromString(id), d.o.svidLifetime)
	if err != nil {
		return nil, fmt.Errorf("sandbox: SVID of %s: %w", name, err)
	}
	src, err := spiffe.NewMemorySource(svid, d.ca.Bundle())
	if err != nil {
		return nil, err
	}
	ident, err := spiffe.FromSource(src, d.o.tokenLifetime, spiffe.WithLogger(d.o.logger.WithField("component", name)))
	if err != nil {
		return nil, err
	}
	i := &identity{id: id, gen: ident.TokenGenerator(), src: src, ident: ident}
	d.idents.mu.Lock()
	d.idents.list = append(d.idents.list, i)
	d.idents.mu.Unlock()
	return i, nil
}

// dialOptions are what a component dials the next hop with.
func (i *identity) dialOptions() []grpc.DialOption {
	if i.ident != nil {
		return i.ident.DialOptions()
	}
	return []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(token.NewInsecurePerRPCCredentials(i.gen)),
	}
}

// serverOptions are what a component serves with.
func (i *identity) serverOptions() []grpc.ServerOption {
	if i.ident != nil {
		return i.ident.ServerOptions()
	}
	return nil
}

// MTLS reports whether the domain runs over mutual TLS (WithMTLS).
func (d *Domain) MTLS() bool { return d.ca != nil }

// CA returns the domain's development CA (nil without WithMTLS), to issue
// identities of the trust domain, or to compare with a CA of another one.
func (d *Domain) CA() *devca.CA { return d.ca }

// NewIdentity returns an identity named name (spiffe://<TrustDomain>/name)
// for a test's own clients and servers: with WithMTLS an SVID of the
// domain, otherwise the plaintext development identity.
func (d *Domain) NewIdentity(name string) (*spiffe.Identity, error) {
	if d.ca == nil {
		return spiffe.Open(d.ctx, spiffe.Insecure(), "nsc", name, d.o.tokenLifetime)
	}
	i, err := d.newIdentity(name)
	if err != nil {
		return nil, err
	}
	return i.ident, nil
}

// WriteSVIDDir issues an SVID for spiffe://<TrustDomain>/name into a fresh
// directory of the domain (removed with it) and returns the directory, for
// a binary under test to use as NSM_SVID_DIR. It needs WithMTLS.
func (d *Domain) WriteSVIDDir(name string) (string, error) {
	if d.ca == nil {
		return "", fmt.Errorf("sandbox: WriteSVIDDir needs WithMTLS")
	}
	dir := filepath.Join(d.dir, "svid", name)
	if _, err := d.ca.IssueToDir(dir, spiffeid.RequireFromString(fmt.Sprintf("spiffe://%s/%s", TrustDomain, name)), d.o.svidLifetime); err != nil {
		return "", err
	}
	return dir, nil
}

// RotateSVIDs gives every component of the domain a new SVID (new key and
// certificate), as a SPIRE agent does, while everything keeps running.
// Files written by WriteSVIDDir are not rotated (issue them again).
func (d *Domain) RotateSVIDs() error {
	if d.ca == nil {
		return fmt.Errorf("sandbox: RotateSVIDs needs WithMTLS")
	}
	d.idents.mu.Lock()
	list := append([]*identity(nil), d.idents.list...)
	d.idents.mu.Unlock()
	for _, i := range list {
		svid, err := d.ca.Issue(spiffeid.RequireFromString(i.id), d.o.svidLifetime)
		if err != nil {
			return err
		}
		if err := i.src.Set(svid); err != nil {
			return err
		}
	}
	return nil
}
