// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package spiffe_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/nsmesh/nsmesh/sdk/token"
	"github.com/nsmesh/nsmesh/sdk/tools/spiffe"
	"github.com/nsmesh/nsmesh/sdk/tools/spiffe/devca"
)

func benchIdentity(b *testing.B, ca *devca.CA, id string) *spiffe.Identity {
	b.Helper()
	svid, err := ca.Issue(spiffeid.RequireFromString(id), time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	src, err := spiffe.NewMemorySource(svid, ca.Bundle())
	if err != nil {
		b.Fatal(err)
	}
	ident, err := spiffe.FromSource(src, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	return ident
}

// BenchmarkTLSHandshake measures one mutual TLS handshake (TLS 1.3, P-256
// SVIDs, SPIFFE verification on both sides): the CPU of client and server
// together, over an in-memory pipe.
func BenchmarkTLSHandshake(b *testing.B) {
	ca := devca.MustNew("nsmesh.local")
	server := benchIdentity(b, ca, "spiffe://nsmesh.local/nsmgr/a")
	client := benchIdentity(b, ca, "spiffe://nsmesh.local/nsc/b")
	scfg, ccfg := spiffe.ServerTLSConfig(server.Source()), spiffe.ClientTLSConfig(client.Source())
	b.ReportAllocs()
	for b.Loop() {
		c1, c2 := net.Pipe()
		done := make(chan error, 1)
		go func() { done <- tls.Server(c1, scfg).Handshake() }()
		if err := tls.Client(c2, ccfg).Handshake(); err != nil {
			b.Fatal(err)
		}
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		_ = c1.Close()
		_ = c2.Close()
	}
}

// benchServer serves gRPC health with creds on loopback TCP.
func benchServer(b *testing.B, creds credentials.TransportCredentials) string {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := grpc.NewServer(grpc.Creds(creds))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(l) }()
	b.Cleanup(func() { srv.Stop(); <-done })
	return l.Addr().String()
}

// benchModes are plaintext with insecure per-RPC tokens (NSM_INSECURE) and
// mTLS with SVID-signed tokens, as the binaries run.
func benchModes(b *testing.B) []struct {
	name   string
	server credentials.TransportCredentials
	dial   []grpc.DialOption
} {
	ca := devca.MustNew("nsmesh.local")
	server := benchIdentity(b, ca, "spiffe://nsmesh.local/nsmgr/a")
	client := benchIdentity(b, ca, "spiffe://nsmesh.local/nsc/b")
	plain, err := spiffe.Open(context.Background(), spiffe.Insecure(), "nsc", "b", time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	return []struct {
		name   string
		server credentials.TransportCredentials
		dial   []grpc.DialOption
	}{
		{"plaintext", insecure.NewCredentials(), plain.DialOptions()},
		{"mTLS", server.ServerCredentials(), client.DialOptions()},
	}
}

// BenchmarkDialAndCall measures a new gRPC connection (TCP, and with mTLS
// the handshake), one unary call with its path token, and the close: what
// a hop pays per connection it dials.
func BenchmarkDialAndCall(b *testing.B) {
	for _, m := range benchModes(b) {
		b.Run(m.name, func(b *testing.B) {
			addr := benchServer(b, m.server)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				cc, err := grpc.NewClient(addr, m.dial...)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
					b.Fatal(err)
				}
				_ = cc.Close()
			}
		})
	}
}

// BenchmarkCall measures one unary call on an open connection, with a path
// token made for the server per call: the per-call cost of mTLS (records
// and an ES256 signature) against plaintext (an ES256 signature too).
func BenchmarkCall(b *testing.B) {
	for _, m := range benchModes(b) {
		b.Run(m.name, func(b *testing.B) {
			addr := benchServer(b, m.server)
			cc, err := grpc.NewClient(addr, m.dial...)
			if err != nil {
				b.Fatal(err)
			}
			defer cc.Close()
			h := healthpb.NewHealthClient(cc)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := h.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGenerate measures one path token of an Identity for a TLS peer:
// finding the SVID of the peer's connection and signing with it.
func BenchmarkGenerate(b *testing.B) {
	ca := devca.MustNew("nsmesh.local")
	ident := benchIdentity(b, ca, "spiffe://nsmesh.local/nsmgr/a")
	peerSVID, err := ca.Issue(spiffeid.RequireFromString("spiffe://nsmesh.local/nsc/b"), time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	peer := credentials.TLSInfo{State: tls.ConnectionState{PeerCertificates: []*x509.Certificate{peerSVID.Certificates[0]}}}
	gen := ident.TokenGenerator()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := gen.Generate(peer); err != nil {
			b.Fatal(err)
		}
	}
}

var _ token.Generator = (*spiffe.TokenGenerator)(nil)
