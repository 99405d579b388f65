// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package spiffe_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/nsmesh/nsmesh/sdk/token"
	"github.com/nsmesh/nsmesh/sdk/tools/spiffe"
	"github.com/nsmesh/nsmesh/sdk/tools/spiffe/devca"
)

// seen is what the test server learnt from its last call.
type seen struct {
	mu       sync.Mutex
	peerCert *x509.Certificate
	tok      string
	tokErr   error
	// ownTok is the token the server made for the caller (as updatetoken
	// does) with its identity's generator.
	ownTok string
}

// ident returns an identity of src that the test closes.
func ident(t *testing.T, src spiffe.Source, opts ...spiffe.Option) *spiffe.Identity {
	t.Helper()
	id, err := spiffe.FromSource(src, time.Hour, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = id.Close() })
	return id
}

// serve starts a health server of id on loopback; it records the caller's
// certificate and path token of each call, and signs a token for it.
func serve(t *testing.T, id *spiffe.Identity) (string, *seen) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &seen{}
	srv := grpc.NewServer(grpc.Creds(id.ServerCredentials()), grpc.UnaryInterceptor(
		func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			s.mu.Lock()
			if p, ok := peer.FromContext(ctx); ok {
				s.peerCert = token.PeerCertificate(p.AuthInfo)
				s.ownTok, _, _ = id.TokenGenerator().Generate(p.AuthInfo)
			}
			tok, _, _, err := token.FromIncoming(ctx)
			s.tok, s.tokErr = tok, err
			s.mu.Unlock()
			return h(ctx, req)
		}))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Stop(); <-done })
	return l.Addr().String(), s
}

// check calls the health service at addr with opts.
func check(t *testing.T, addr string, opts ...grpc.DialOption) (*peer.Peer, error) {
	t.Helper()
	cc, err := grpc.NewClient(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var p peer.Peer
	_, err = healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Peer(&p))
	return &p, err
}

func memory(t *testing.T, ca *devca.CA, spiffeID string) *spiffe.MemorySource {
	t.Helper()
	src, err := spiffe.NewMemorySource(issue(t, ca, spiffeID, time.Hour), ca.Bundle())
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// attacker is a client with an SVID of its own CA that trusts our (public)
// bundle, so that it gets as far as presenting its certificate.
func attacker(t *testing.T, own *devca.CA, spiffeID string, ours *devca.CA) *spiffe.MemorySource {
	t.Helper()
	bundles := []*x509bundle.Bundle{ours.Bundle()}
	if own.TrustDomain() != ours.TrustDomain() {
		bundles = append(bundles, own.Bundle())
	}
	src, err := spiffe.NewMemorySource(issue(t, own, spiffeID, time.Hour), bundles...)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func TestMutualTLSWithTokens(t *testing.T) {
	ca := devca.MustNew("nsmesh.local")
	server := memory(t, ca, "spiffe://nsmesh.local/nsmgr/mgr")
	client := memory(t, ca, "spiffe://nsmesh.local/nsc/c")
	addr, s := serve(t, ident(t, server))
	p, err := check(t, addr, ident(t, client).DialOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	ti := p.AuthInfo.(credentials.TLSInfo)
	if ti.State.Version < tls.VersionTLS12 {
		t.Fatalf("TLS version %x", ti.State.Version)
	}
	if got, _ := token.SPIFFEID(token.PeerCertificate(p.AuthInfo)); got != "spiffe://nsmesh.local/nsmgr/mgr" {
		t.Fatalf("client sees server %s", got)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if got, _ := token.SPIFFEID(s.peerCert); got != "spiffe://nsmesh.local/nsc/c" {
		t.Fatalf("server sees client %s", got)
	}
	// The token proves the caller: signed with the certificate it presented,
	// for this server.
	if s.tokErr != nil {
		t.Fatal(s.tokErr)
	}
	claims, err := token.Verify(s.tok, s.peerCert.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if claims.Subject != "spiffe://nsmesh.local/nsc/c" || !claims.HasAudience("spiffe://nsmesh.local/nsmgr/mgr") {
		t.Fatalf("claims %+v", claims)
	}
}

func TestHandshakeRefusals(t *testing.T) {
	ca := devca.MustNew("nsmesh.local")
	evil := devca.MustNew("evil.example")
	forged := devca.MustNew("nsmesh.local")
	server := memory(t, ca, "spiffe://nsmesh.local/nsmgr/mgr")
	logger, hook := logtest.NewNullLogger()
	addr, s := serve(t, ident(t, server, spiffe.WithLogger(logger)))
	noCert := credentials.NewTLS(tlsconfig.TLSClientConfig(ca.Bundle(), tlsconfig.AuthorizeAny()))

	// The refused client may see only a reset connection (TLS 1.3 ends its
	// side of the handshake before the server checks its certificate), so
	// the reason is checked where an operator reads it: the server's log.
	for _, tt := range []struct {
		name   string
		creds  credentials.TransportCredentials
		reason string
	}{
		{"plaintext", insecure.NewCredentials(), "first record does not look like a TLS handshake"},
		{"no client certificate", noCert, "client didn't provide a certificate"},
		{"other trust domain", ident(t, attacker(t, evil, "spiffe://evil.example/nsc/x", ca)).ClientCredentials(), `no X.509 bundle for trust domain "evil.example"`},
		{"forged CA of our trust domain", ident(t, attacker(t, forged, "spiffe://nsmesh.local/nsc/x", ca)).ClientCredentials(), "certificate signed by unknown authority"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hook.Reset()
			_, err := check(t, addr, grpc.WithTransportCredentials(tt.creds))
			if status.Code(err) != codes.Unavailable {
				t.Fatalf("call: %v, want Unavailable", err)
			}
			deadline := time.Now().Add(2 * time.Second)
			for len(hook.AllEntries()) == 0 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			var logged []string
			for _, e := range hook.AllEntries() {
				logged = append(logged, fmt.Sprintf("%s: %v", e.Message, e.Data[logrus.ErrorKey]))
			}
			if len(logged) == 0 || !strings.Contains(logged[0], "mTLS handshake refused") || !strings.Contains(logged[0], tt.reason) {
				t.Fatalf("server logged %q, want the refusal with %q", logged, tt.reason)
			}
			t.Logf("client: %v; server: %s", err, logged[0])
		})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.peerCert != nil || s.tok != "" {
		t.Fatal("a refused client reached the handler")
	}

	// A client refuses a server of another trust domain as well.
	evilAddr, _ := serve(t, ident(t, memory(t, evil, "spiffe://evil.example/nsmgr/x")))
	client := memory(t, ca, "spiffe://nsmesh.local/nsc/c")
	_, err := check(t, evilAddr, grpc.WithTransportCredentials(ident(t, client).ClientCredentials()))
	if err == nil || !strings.Contains(err.Error(), `no X.509 bundle for trust domain`) || !strings.Contains(err.Error(), "evil.example") {
		t.Fatalf("client to a foreign server: %v", err)
	}
}

func TestRotationReachesNewConnectionsAndTokens(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ca := devca.MustNew("nsmesh.local")
	dir := t.TempDir()
	me := id("spiffe://nsmesh.local/nsmgr/mgr")
	if _, err := ca.IssueToDir(dir, me, time.Hour); err != nil {
		t.Fatal(err)
	}
	server, err := spiffe.NewFileSource(ctx, dir, spiffe.WithPollInterval(10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	addr, _ := serve(t, ident(t, server))
	client := memory(t, ca, "spiffe://nsmesh.local/nsc/c")
	dial := grpc.WithTransportCredentials(ident(t, client).ClientCredentials())
	p, err := check(t, addr, dial)
	if err != nil {
		t.Fatal(err)
	}
	before := token.PeerCertificate(p.AuthInfo)

	next, err := ca.IssueToDir(dir, me, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	waitUpdated(t, server.Updated())
	p, err = check(t, addr, dial)
	if err != nil {
		t.Fatal(err)
	}
	after := token.PeerCertificate(p.AuthInfo)
	if !after.Equal(next.Certificates[0]) || after.Equal(before) {
		t.Fatal("a new connection after the rotation did not get the new certificate")
	}

	// Tokens follow: signed with the new key, not the old one.
	gen, err := spiffe.NewTokenGenerator(server, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := gen.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := token.Verify(tok, after.PublicKey); err != nil {
		t.Fatalf("token after rotation does not verify with the new certificate: %v", err)
	}
	if _, err := token.Verify(tok, before.PublicKey); !errors.Is(err, token.ErrBadSignature) {
		t.Fatalf("token after rotation verifies with the old certificate: %v", err)
	}
}

func TestTokenGenerator(t *testing.T) {
	ca := devca.MustNew("nsmesh.local")
	short := issue(t, ca, "spiffe://nsmesh.local/nse/e", 30*time.Minute)
	src, err := spiffe.NewMemorySource(short, ca.Bundle())
	if err != nil {
		t.Fatal(err)
	}
	gen, err := spiffe.NewTokenGenerator(src, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	peerSVID := issue(t, ca, "spiffe://nsmesh.local/forwarder/f", 10*time.Minute)
	peerInfo := credentials.TLSInfo{State: tls.ConnectionState{PeerCertificates: peerSVID.Certificates}}
	tok, exp, err := gen.Generate(peerInfo)
	if err != nil {
		t.Fatal(err)
	}
	claims, err := token.Verify(tok, short.Certificates[0].PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if claims.Subject != "spiffe://nsmesh.local/nse/e" || len(claims.Audience) != 1 || claims.Audience[0] != "spiffe://nsmesh.local/forwarder/f" {
		t.Fatalf("claims %+v", claims)
	}
	// exp is capped at the signer's NotAfter, the returned expiry also at the peer's.
	if want := short.Certificates[0].NotAfter.Truncate(time.Second); !claims.Expires.Equal(want) {
		t.Fatalf("exp %s, want the SVID's NotAfter %s", claims.Expires, want)
	}
	if !exp.Equal(peerSVID.Certificates[0].NotAfter) {
		t.Fatalf("expiry %s, want the peer's NotAfter %s", exp, peerSVID.Certificates[0].NotAfter)
	}

	// A rotated source signs with the new key at once.
	rotated := issue(t, ca, "spiffe://nsmesh.local/nse/e", time.Hour)
	if err := src.Set(rotated); err != nil {
		t.Fatal(err)
	}
	tok, _, err = gen.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := token.Verify(tok, rotated.Certificates[0].PublicKey); err != nil {
		t.Fatal(err)
	}

	// An RSA SVID cannot sign ES256 tokens: refused at construction.
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaSrc, err := spiffe.NewMemorySource(&x509svid.SVID{ID: short.ID, Certificates: short.Certificates, PrivateKey: rsaKey}, ca.Bundle())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := spiffe.NewTokenGenerator(rsaSrc, time.Hour); !errors.Is(err, spiffe.ErrKey) {
		t.Fatalf("RSA key: %v, want ErrKey", err)
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := gen.Generate(nil); !errors.Is(err, spiffe.ErrClosed) {
		t.Fatalf("generate from a closed source: %v", err)
	}
}

func TestOpenInsecure(t *testing.T) {
	ident, err := spiffe.Open(context.Background(), spiffe.Insecure(), "nsc", "dev", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer ident.Close()
	if !ident.Insecure() || ident.Source() != nil || ident.ID() != "spiffe://nsmesh.local/nsc/dev" {
		t.Fatalf("insecure identity: %v %v %s", ident.Insecure(), ident.Source(), ident.ID())
	}
	if p := ident.ServerCredentials().Info().SecurityProtocol; p != "insecure" {
		t.Fatalf("server credentials %q", p)
	}
	if ident.PerRPCCredentials().RequireTransportSecurity() {
		t.Fatal("insecure per-RPC credentials require TLS")
	}
	if _, err := spiffe.Open(context.Background(), spiffe.Config{}, "nsc", "dev", time.Minute); !errors.Is(err, spiffe.ErrNoIdentity) {
		t.Fatalf("open without a mode: %v", err)
	}
}

func TestOpenFiles(t *testing.T) {
	ca := devca.MustNew("nsmesh.local")
	dir := t.TempDir()
	if _, err := ca.IssueToDir(dir, id("spiffe://nsmesh.local/registry/registry"), time.Hour); err != nil {
		t.Fatal(err)
	}
	ident, err := spiffe.Open(context.Background(), spiffe.Config{Mode: spiffe.ModeFiles, SVIDDir: dir}, "registry", "registry", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if ident.Mode() != spiffe.ModeFiles || ident.ID() != "spiffe://nsmesh.local/registry/registry" {
		t.Fatalf("mode %v id %s", ident.Mode(), ident.ID())
	}
	if p := ident.ClientCredentials().Info().SecurityProtocol; p != "tls" {
		t.Fatalf("client credentials %q", p)
	}
	if !ident.PerRPCCredentials().RequireTransportSecurity() {
		t.Fatal("mTLS per-RPC credentials do not require TLS")
	}
	if err := ident.Close(); err != nil {
		t.Fatal(err)
	}
	if ident.ID() != "" {
		t.Fatal("closed identity still answers")
	}
}
