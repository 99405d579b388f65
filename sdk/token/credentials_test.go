// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package token_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	"github.com/nsmesh/nsmesh/sdk/token"
)

func TestFromIncoming(t *testing.T) {
	exp := time.Date(2026, 5, 1, 10, 0, 0, 123456789, time.UTC)
	expStr := exp.Format(time.RFC3339Nano)
	tests := []struct {
		name    string
		md      metadata.MD // nil: no incoming metadata at all
		wantOK  bool
		wantErr error
	}{
		{name: "no metadata"},
		{name: "other keys only", md: metadata.Pairs("x", "y")},
		{name: "both once", md: metadata.Pairs(token.MetadataKey, "tok", token.MetadataExpiresKey, expStr), wantOK: true},
		{name: "token twice", md: metadata.Pairs(token.MetadataKey, "tok", token.MetadataKey, "tok2", token.MetadataExpiresKey, expStr), wantErr: token.ErrMetadata},
		{name: "expires twice", md: metadata.Pairs(token.MetadataKey, "tok", token.MetadataExpiresKey, expStr, token.MetadataExpiresKey, expStr), wantErr: token.ErrMetadata},
		{name: "token without expires", md: metadata.Pairs(token.MetadataKey, "tok"), wantErr: token.ErrMetadata},
		{name: "expires without token", md: metadata.Pairs(token.MetadataExpiresKey, expStr), wantErr: token.ErrMetadata},
		{name: "expires not RFC3339", md: metadata.Pairs(token.MetadataKey, "tok", token.MetadataExpiresKey, "tomorrow"), wantErr: token.ErrMetadata},
		{name: "empty token", md: metadata.Pairs(token.MetadataKey, "", token.MetadataExpiresKey, expStr), wantErr: token.ErrMetadata},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.md != nil {
				ctx = metadata.NewIncomingContext(ctx, tt.md)
			}
			tok, got, ok, err := token.FromIncoming(ctx)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if ok != tt.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tt.wantOK)
			}
			if ok && (tok != "tok" || !got.Equal(exp)) {
				t.Errorf("got %q, %s", tok, got)
			}
		})
	}
}

// captured is what the server saw of one call.
type captured struct {
	tokens, expires []string
	tok             string
	exp             time.Time
	err             error
}

// serve runs a health server whose interceptor records the token metadata.
func serve(t *testing.T, creds credentials.TransportCredentials) (string, <-chan captured) {
	t.Helper()
	ch := make(chan captured, 1)
	srv := grpc.NewServer(grpc.Creds(creds), grpc.UnaryInterceptor(
		func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			md, _ := metadata.FromIncomingContext(ctx)
			c := captured{tokens: md.Get(token.MetadataKey), expires: md.Get(token.MetadataExpiresKey)}
			c.tok, c.exp, _, c.err = token.FromIncoming(ctx)
			ch <- c
			return h(ctx, req)
		}))
	grpc_health_v1.RegisterHealthServer(srv, health.NewServer())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Stop(); <-done })
	return l.Addr().String(), ch
}

func TestPerRPCCredentialsOverTLS(t *testing.T) {
	p := newPKI(t)
	gen, err := p.client.Generator(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	addr, ch := serve(t, credentials.NewTLS(p.server.TLSConfig(p.ca)))
	cc, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(credentials.NewTLS(p.client.TLSConfig(p.ca))),
		grpc.WithPerRPCCredentials(token.NewPerRPCCredentials(gen)))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cc.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := grpc_health_v1.NewHealthClient(cc).Check(ctx, &grpc_health_v1.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	got := <-ch
	if len(got.tokens) != 1 || len(got.expires) != 1 {
		t.Fatalf("server saw %d tokens and %d expiries, want 1 each", len(got.tokens), len(got.expires))
	}
	if got.err != nil {
		t.Fatal(got.err)
	}
	c, err := token.Verify(got.tok, &p.client.Key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject != clientID || !slices.Equal(c.Audience, []string{serverID}) {
		t.Errorf("claims %+v: want sub %s aud [%s]", c, clientID, serverID)
	}
	if !got.exp.Equal(c.Expires) {
		t.Errorf("metadata expiry %s differs from exp %s", got.exp, c.Expires)
	}
}

func TestPerRPCCredentialsTransportSecurity(t *testing.T) {
	p := newPKI(t)
	gen, err := p.client.Generator(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		creds   credentials.PerRPCCredentials
		wantErr bool
	}{
		{name: "secure credentials refuse a plaintext connection", creds: token.NewPerRPCCredentials(gen), wantErr: true},
		{name: "insecure credentials send without audience", creds: token.NewInsecurePerRPCCredentials(gen)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.creds.RequireTransportSecurity(); got != tt.wantErr {
				t.Errorf("RequireTransportSecurity = %v", got)
			}
			addr, ch := serve(t, insecure.NewCredentials())
			cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithPerRPCCredentials(tt.creds))
			if err != nil {
				if tt.wantErr {
					return
				}
				t.Fatal(err)
			}
			defer func() { _ = cc.Close() }()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err = grpc_health_v1.NewHealthClient(cc).Check(ctx, &grpc_health_v1.HealthCheckRequest{})
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			got := <-ch
			c, err := token.Verify(got.tok, &p.client.Key.PublicKey)
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Audience) != 0 {
				t.Errorf("aud = %v without TLS", c.Audience)
			}
		})
	}
}

func TestPerRPCCredentialsGeneratorError(t *testing.T) {
	boom := errors.New("boom")
	creds := token.NewInsecurePerRPCCredentials(token.GeneratorFunc(func(credentials.AuthInfo) (string, time.Time, error) {
		return "", time.Time{}, boom
	}))
	ctx := credentials.NewContextWithRequestInfo(context.Background(), credentials.RequestInfo{Method: "/x/y"})
	if _, err := creds.GetRequestMetadata(ctx); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if _, err := creds.GetRequestMetadata(context.Background()); err == nil {
		t.Fatal("no error without request info")
	}
}
