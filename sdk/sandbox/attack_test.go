// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package sandbox_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/chains/client"
	"github.com/nsmesh/nsmesh/sdk/networkservice/mechanisms/kernel"
	regclient "github.com/nsmesh/nsmesh/sdk/registry/chains/client"
	"github.com/nsmesh/nsmesh/sdk/sandbox"
	"github.com/nsmesh/nsmesh/sdk/token"
	"github.com/nsmesh/nsmesh/sdk/tools/grpcutils"
	"github.com/nsmesh/nsmesh/sdk/tools/spiffe"
	"github.com/nsmesh/nsmesh/sdk/tools/spiffe/devca"
)

// These attacks run against an mTLS sandbox and must each fail with a clear
// error and change nothing: no Request or Close reaches the endpoint's own
// elements (its Counter), no registration is added.

// mtlsDomain starts an mTLS domain with the "red" service, its endpoint on
// the last node, and logs into a hook.
func mtlsDomain(t *testing.T, nodes int) (context.Context, *sandbox.Domain, *sandbox.Endpoint, *logtest.Hook) {
	t.Helper()
	logger, hook := logtest.NewNullLogger()
	logger.SetLevel(logrus.WarnLevel)
	ctx, d := setup(t, &registry.NetworkService{Name: "red"}, sandbox.WithMTLS(), sandbox.WithNodes(nodes), sandbox.WithLogger(logger))
	nse := mustEndpoint(ctx, t, d.Nodes[nodes-1], "nse", nil, []string{"red"})
	return ctx, d, nse, hook
}

// attacker returns a client chain named name that dials u with creds and
// sends the path tokens of rpc.
func attacker(ctx context.Context, t *testing.T, u *url.URL, name string, gen token.Generator, creds credentials.TransportCredentials, rpc credentials.PerRPCCredentials) networkservice.NetworkServiceClient {
	t.Helper()
	offer, err := kernel.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	dialOpts := []grpc.DialOption{grpc.WithTransportCredentials(creds)}
	if rpc != nil {
		dialOpts = append(dialOpts, grpc.WithPerRPCCredentials(rpc))
	}
	c, err := client.New(ctx, name, gen,
		client.WithURL(u),
		client.WithDialOptions(dialOpts...),
		client.WithDialTimeout(time.Second),
		client.WithoutRefresh(),
		client.WithAdditionalFunctionality(offer))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func shortCtx(ctx context.Context, t *testing.T) context.Context {
	return timeoutCtx(ctx, t, 3*time.Second)
}

// timeoutCtx bounds calls that are expected to fail at the handshake.
func timeoutCtx(ctx context.Context, t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(ctx, d)
	t.Cleanup(cancel)
	return ctx
}

// registered reports whether the registry knows an endpoint named name,
// asking as a member of the domain.
func registered(ctx context.Context, t *testing.T, d *sandbox.Domain, name string) bool {
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
			return false
		}
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetNetworkServiceEndpoint().GetName() == name {
			return true
		}
	}
}

// refusedHandshake waits for the log line of a server that refused a
// handshake and returns it.
func refusedHandshake(t *testing.T, hook *logtest.Hook) string {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		for _, e := range hook.AllEntries() {
			if e.Message == "mTLS handshake refused" {
				return fmt.Sprint(e.Data[logrus.ErrorKey])
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no server logged a refused handshake")
	return ""
}

func TestAttackWithoutValidCertificateIsRefused(t *testing.T) {
	for _, tt := range []struct {
		name   string
		creds  func(d *sandbox.Domain) credentials.TransportCredentials
		reason string
	}{
		{"no client certificate", func(d *sandbox.Domain) credentials.TransportCredentials {
			// It trusts the mesh (the bundle is public) but has no SVID.
			return credentials.NewTLS(tlsconfig.TLSClientConfig(d.CA().Bundle(), tlsconfig.AuthorizeAny()))
		}, "client didn't provide a certificate"},
		{"certificate of another trust domain", func(d *sandbox.Domain) credentials.TransportCredentials {
			evil := devca.MustNew("evil.example")
			return foreign(t, evil, "spiffe://evil.example/nsc", d.CA().Bundle(), evil.Bundle())
		}, `no X.509 bundle for trust domain "evil.example"`},
		{"certificate of a forged CA of our trust domain", func(d *sandbox.Domain) credentials.TransportCredentials {
			return foreign(t, devca.MustNew(sandbox.TrustDomain), "spiffe://"+sandbox.TrustDomain+"/nsc-1", d.CA().Bundle())
		}, "certificate signed by unknown authority"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, d, nse, hook := mtlsDomain(t, 1)
			n := d.Nodes[0]
			creds := tt.creds(d)
			gen := fakeGen(t)

			hook.Reset()
			_, err := attacker(ctx, t, n.NSMgr.UnixURL(), "nsc-evil", gen, creds, nil).Request(timeoutCtx(ctx, t, time.Second), request("red"))
			if err == nil {
				t.Fatal("request succeeded")
			}
			if reason := refusedHandshake(t, hook); !strings.Contains(reason, tt.reason) {
				t.Fatalf("nsmgr refused the handshake with %q, want %q", reason, tt.reason)
			}
			t.Logf("client sees: %v", err)

			reg, err := regclient.NewNSEClient(ctx, regclient.WithURL(n.NSMgr.UnixURL()),
				regclient.WithDialOptions(grpc.WithTransportCredentials(creds)), regclient.WithoutHeal())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := reg.Register(timeoutCtx(ctx, t, time.Second), &registry.NetworkServiceEndpoint{
				Name: "nse-evil", NetworkServiceNames: []string{"red"}, Url: "unix:///evil.sock",
			}); err == nil {
				t.Fatal("registration succeeded")
			}
			if nse.Counter.Requests() != 0 || registered(ctx, t, d, "nse-evil") {
				t.Fatalf("something changed: endpoint requests %d", nse.Counter.Requests())
			}
		})
	}
}

// foreign returns client credentials presenting an SVID of ca for id and
// trusting bundles (an attacker knows the mesh's public bundle).
func foreign(t *testing.T, ca *devca.CA, id string, bundles ...*x509bundle.Bundle) credentials.TransportCredentials {
	t.Helper()
	svid, err := ca.Issue(spiffeid.RequireFromString(id), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	src, err := spiffe.NewMemorySource(svid, bundles...)
	if err != nil {
		t.Fatal(err)
	}
	ident, err := spiffe.FromSource(src, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return ident.ClientCredentials()
}

// fakeGen signs tokens with a key nobody trusts.
func fakeGen(t *testing.T) token.Generator {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	gen, err := token.NewJWTGenerator(key, "spiffe://"+sandbox.TrustDomain+"/nsc-evil", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return gen
}

// forged sends, on every call, the token make returns for the real token
// the member's generator made for the server.
type forged struct {
	gen  token.Generator
	make func(real string) string
}

func (f forged) GetRequestMetadata(ctx context.Context, _ ...string) (map[string]string, error) {
	ri, _ := credentials.RequestInfoFromContext(ctx)
	tok, exp, err := f.gen.Generate(ri.AuthInfo)
	if err != nil {
		return nil, err
	}
	return map[string]string{token.MetadataKey: f.make(tok), token.MetadataExpiresKey: exp.UTC().Format(time.RFC3339Nano)}, nil
}

func (forged) RequireTransportSecurity() bool { return true }

// jwtParts splits a JWT into its decoded header and claims and its signature.
func jwtParts(t *testing.T, tok string) (header, claims, sig string) {
	t.Helper()
	p := strings.Split(tok, ".")
	if len(p) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	h, err1 := base64.RawURLEncoding.DecodeString(p[0])
	c, err2 := base64.RawURLEncoding.DecodeString(p[1])
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	return string(h), string(c), p[2]
}

func enc(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestAttackWithForgedTokenIsDenied(t *testing.T) {
	ctx, d, nse, _ := mtlsDomain(t, 1)
	n := d.Nodes[0]
	member, err := d.NewIdentity("nsc-evil")
	if err != nil {
		t.Fatal(err)
	}
	victim := "spiffe://" + sandbox.TrustDomain + "/nsc-1"
	otherKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	svid, err := member.Source().GetX509SVID()
	if err != nil {
		t.Fatal(err)
	}
	ownKey := svid.PrivateKey.(*ecdsa.PrivateKey)
	resign := func(key *ecdsa.PrivateKey, real string, edit func(*token.Claims)) string {
		c, err := token.Parse(real)
		if err != nil {
			t.Fatal(err)
		}
		edit(&c)
		tok, err := token.Sign(key, c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	for _, tt := range []struct {
		name string
		make func(real string) string
		deny string // "" for the control: the member's own token is accepted
	}{
		{"control: the member's own token", func(real string) string { return real }, ""},
		{"claims edited to impersonate another client", func(real string) string {
			h, c, sig := jwtParts(t, real)
			c = strings.Replace(c, "nsc-evil", "nsc-1", 1)
			return enc(h) + "." + enc(c) + "." + sig
		}, "prev_token_signed"},
		{"signature altered", func(real string) string {
			b := []byte(real)
			i := len(b) - 5
			b[i] = map[bool]byte{true: 'A', false: 'B'}[b[i] != 'A']
			return string(b)
		}, "prev_token_signed"},
		{"unsigned (alg none)", func(real string) string {
			_, c, _ := jwtParts(t, real)
			return enc(`{"alg":"none","typ":"JWT"}`) + "." + enc(c) + "."
		}, "not allowed"},
		{"signed with another key as another client", func(real string) string {
			return resign(otherKey, real, func(c *token.Claims) { c.Subject = victim })
		}, "prev_token_signed"},
		{"correctly signed but expired", func(real string) string {
			return resign(ownKey, real, func(c *token.Claims) { c.Expires = time.Now().Add(-time.Minute) })
		}, "tokens_unexpired"},
		{"not a JWT", func(string) string { return "garbage" }, "tokens_valid"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := nse.Counter.Requests()
			c := attacker(ctx, t, n.NSMgr.UnixURL(), "nsc-evil", member.TokenGenerator(), member.ClientCredentials(),
				forged{gen: member.TokenGenerator(), make: tt.make})
			conn, err := c.Request(shortCtx(ctx, t), request("red"))
			if tt.deny == "" {
				if err != nil {
					t.Fatalf("control request: %v", err)
				}
				if nse.Counter.Requests() != before+1 {
					t.Fatal("control request did not reach the endpoint")
				}
				if _, err := c.Close(shortCtx(ctx, t), conn); err != nil {
					t.Fatal(err)
				}
				return
			}
			if st := status.Convert(err); st.Code() != codes.PermissionDenied || !strings.Contains(st.Message(), tt.deny) {
				t.Fatalf("got %v, want PermissionDenied naming %s", err, tt.deny)
			}
			t.Logf("denied: %s", status.Convert(err).Message())
			if nse.Counter.Requests() != before {
				t.Fatal("a forged request reached the endpoint")
			}
		})
	}
}

// A token binds its holder's call to one connection of one caller to one
// server:
//   - sub names its signer and the server checks it against the TLS
//     certificate of the caller on this connection (prev_token_signed), so a
//     token taken from someone else's path or traffic is useless to anyone
//     but its signer, whose certificate key never leaves it;
//   - aud names the one hop it is for, and the next hop's own token must be
//     signed by that hop (tokens_chained), so even its signer cannot take a
//     token made for one hop to another;
//   - exp bounds how long a leaked token is worth anything, and mTLS keeps
//     it from leaking on the wire in the first place.
func TestAttackWithReplayedTokenIsDenied(t *testing.T) {
	ctx, d, nse, _ := mtlsDomain(t, 2)
	n1, n2 := d.Nodes[0], d.Nodes[1]
	victim := mustClient(ctx, t, n1, "nsc-1")
	conn, err := victim.Request(ctx, request("red"))
	if err != nil {
		t.Fatal(err)
	}
	stolen := conn.GetPath().GetPathSegments()[0].GetToken() // nsc-1's token for nsmgr-node-1
	member, err := d.NewIdentity("nsc-evil")
	if err != nil {
		t.Fatal(err)
	}
	// The member's own token for nsmgr-node-1, from its own connection.
	own := attacker(ctx, t, n1.NSMgr.UnixURL(), "nsc-evil", member.TokenGenerator(), member.ClientCredentials(), member.PerRPCCredentials())
	ownConn, err := own.Request(shortCtx(ctx, t), request("red"))
	if err != nil {
		t.Fatal(err)
	}
	ownToken := ownConn.GetPath().GetPathSegments()[0].GetToken()
	before := nse.Counter.Requests()
	replay := func(tok string) forged {
		return forged{gen: member.TokenGenerator(), make: func(string) string { return tok }}
	}

	for _, tt := range []struct {
		name string
		to   *url.URL
		tok  string
		deny string
	}{
		{"another client's token from its connection", n1.NSMgr.UnixURL(), stolen, "not signed by the caller's certificate"},
		{"own token for one nsmgr replayed to another", n2.NSMgr.TCPURL(), ownToken, "tokens_chained"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := attacker(ctx, t, tt.to, "nsc-evil", member.TokenGenerator(), member.ClientCredentials(), replay(tt.tok))
			_, err := c.Request(shortCtx(ctx, t), request("red"))
			if st := status.Convert(err); st.Code() != codes.PermissionDenied || !strings.Contains(st.Message(), tt.deny) {
				t.Fatalf("got %v, want PermissionDenied with %q", err, tt.deny)
			}
			t.Logf("denied: %s", status.Convert(err).Message())
			if nse.Counter.Requests() != before {
				t.Fatal("a replayed request reached the endpoint")
			}
		})
	}
	for _, c := range []struct {
		cl networkservice.NetworkServiceClient
		cn *networkservice.Connection
	}{{victim, conn}, {own, ownConn}} {
		if _, err := c.cl.Close(ctx, c.cn); err != nil {
			t.Fatal(err)
		}
	}
}
