// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package spiffe_test

import (
	"context"
	"crypto/x509"
	"testing"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"

	"github.com/nsmesh/nsmesh/sdk/token"
	"github.com/nsmesh/nsmesh/sdk/tools/spiffe"
	"github.com/nsmesh/nsmesh/sdk/tools/spiffe/devca"
)

// call makes one health check on cc and returns the server's certificate
// and what the server saw.
func call(t *testing.T, cc *grpc.ClientConn, s *seen) (server, client *x509.Certificate, tok, ownTok string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var p peer.Peer
	if _, err = healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Peer(&p)); err != nil {
		return nil, nil, "", "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return token.PeerCertificate(p.AuthInfo), s.peerCert, s.tok, s.ownTok, nil
}

func mustVerify(t *testing.T, what, tok string, cert *x509.Certificate) {
	t.Helper()
	if _, err := token.Verify(tok, cert.PublicKey); err != nil {
		t.Fatalf("%s does not verify with the certificate of its connection: %v", what, err)
	}
}

// After an SVID rotation, a connection made before it keeps its
// certificates until it is replaced, so the tokens sent over it must still
// be signed with the keys of those certificates; new connections use the
// new SVIDs.
func TestTokensAreSignedWithTheSVIDOfTheirConnection(t *testing.T) {
	defer spiffe.SetSweepEvery(time.Hour)() // keep the old connection open
	ca := devca.MustNew("nsmesh.local")
	serverSrc := memory(t, ca, "spiffe://nsmesh.local/nsmgr/mgr")
	clientSrc := memory(t, ca, "spiffe://nsmesh.local/nsc/c")
	addr, s := serve(t, ident(t, serverSrc))
	client := ident(t, clientSrc)
	dial := func() *grpc.ClientConn {
		cc, err := grpc.NewClient(addr, client.DialOptions()...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cc.Close() })
		return cc
	}
	old := dial()
	s1, c1, tok, own, err := call(t, old, s)
	if err != nil {
		t.Fatal(err)
	}
	mustVerify(t, "client token", tok, c1)
	mustVerify(t, "server token", own, s1)

	if err := serverSrc.Set(issue(t, ca, "spiffe://nsmesh.local/nsmgr/mgr", time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := clientSrc.Set(issue(t, ca, "spiffe://nsmesh.local/nsc/c", time.Hour)); err != nil {
		t.Fatal(err)
	}

	s2, c2, tok, own, err := call(t, old, s)
	if err != nil {
		t.Fatal(err)
	}
	if !s2.Equal(s1) || !c2.Equal(c1) {
		t.Fatal("the old connection changed certificates")
	}
	mustVerify(t, "client token on the old connection", tok, c1)
	mustVerify(t, "server token on the old connection", own, s1)

	s3, c3, tok, own, err := call(t, dial(), s)
	if err != nil {
		t.Fatal(err)
	}
	if s3.Equal(s1) || c3.Equal(c1) {
		t.Fatal("a new connection did not use the rotated SVIDs")
	}
	mustVerify(t, "client token on a new connection", tok, c3)
	mustVerify(t, "server token on a new connection", own, s3)
}

// Connections that present a rotated SVID, on either side, are replaced
// soon after the rotation: gRPC reconnects, with the current SVIDs.
func TestConnectionsOnARotatedSVIDAreReplaced(t *testing.T) {
	ca := devca.MustNew("nsmesh.local")
	serverSrc := memory(t, ca, "spiffe://nsmesh.local/nsmgr/mgr")
	clientSrc := memory(t, ca, "spiffe://nsmesh.local/nsc/c")
	addr, s := serve(t, ident(t, serverSrc))
	cc, err := grpc.NewClient(addr, ident(t, clientSrc).DialOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	if _, _, _, _, err := call(t, cc, s); err != nil {
		t.Fatal(err)
	}
	for _, side := range []struct {
		name string
		src  *spiffe.MemorySource
		id   string
		seen func(server, client *x509.Certificate) *x509.Certificate
	}{
		{"client", clientSrc, "spiffe://nsmesh.local/nsc/c", func(_, c *x509.Certificate) *x509.Certificate { return c }},
		{"server", serverSrc, "spiffe://nsmesh.local/nsmgr/mgr", func(s, _ *x509.Certificate) *x509.Certificate { return s }},
	} {
		next := issue(t, ca, side.id, time.Hour)
		if err := side.src.Set(next); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			server, client, tok, own, err := call(t, cc, s)
			if err == nil && side.seen(server, client).Equal(next.Certificates[0]) {
				mustVerify(t, "client token after reconnecting", tok, client)
				mustVerify(t, "server token after reconnecting", own, server)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s rotation: the connection still presents the old SVID (last error %v)", side.name, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}
