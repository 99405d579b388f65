// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package token

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
)

// gRPC metadata keys of the caller's token, as upstream NSM sends them.
const (
	MetadataKey        = "nsm-client-token"
	MetadataExpiresKey = "nsm-client-token-expires"
)

type perRPC struct {
	gen    Generator
	secure bool
}

// NewPerRPCCredentials returns call credentials that send a fresh token from
// gen on every call, made for the server's AuthInfo so that aud names the
// server. They require transport security: a token sent in clear text can be
// replayed by anyone who sees it.
//
// Use with grpc.WithPerRPCCredentials. The caller must not put the token keys
// into outgoing metadata itself, or the server sees them twice and refuses.
func NewPerRPCCredentials(gen Generator) credentials.PerRPCCredentials {
	return &perRPC{gen: gen, secure: true}
}

// NewInsecurePerRPCCredentials is NewPerRPCCredentials that also sends tokens
// over connections without transport security. It exists for tests and the
// in-process sandbox only; the tokens then have no audience.
func NewInsecurePerRPCCredentials(gen Generator) credentials.PerRPCCredentials {
	return &perRPC{gen: gen}
}

// GetRequestMetadata implements credentials.PerRPCCredentials.
func (p *perRPC) GetRequestMetadata(ctx context.Context, _ ...string) (map[string]string, error) {
	ri, ok := credentials.RequestInfoFromContext(ctx)
	if !ok {
		return nil, fmt.Errorf("token: per-RPC credentials called without gRPC request info")
	}
	tok, exp, err := p.gen.Generate(ri.AuthInfo)
	if err != nil {
		return nil, fmt.Errorf("token: generate for %s: %w", ri.Method, err)
	}
	return map[string]string{
		MetadataKey:        tok,
		MetadataExpiresKey: exp.UTC().Format(time.RFC3339Nano),
	}, nil
}

// RequireTransportSecurity implements credentials.PerRPCCredentials.
func (p *perRPC) RequireTransportSecurity() bool { return p.secure }

// FromIncoming returns the caller's token and its expiry from the incoming
// gRPC metadata of a server call. ok is false, without error, when the caller
// sent neither key. Each key must appear exactly once, and both or neither:
// anything else is ErrMetadata.
func FromIncoming(ctx context.Context) (tok string, expires time.Time, ok bool, err error) {
	md, present := metadata.FromIncomingContext(ctx)
	if !present {
		return "", time.Time{}, false, nil
	}
	toks, exps := md.Get(MetadataKey), md.Get(MetadataExpiresKey)
	switch {
	case len(toks) == 0 && len(exps) == 0:
		return "", time.Time{}, false, nil
	case len(toks) != 1 || len(exps) != 1:
		return "", time.Time{}, false, fmt.Errorf("%w: %s appears %d times and %s %d times, want once each",
			ErrMetadata, MetadataKey, len(toks), MetadataExpiresKey, len(exps))
	}
	expires, err = time.Parse(time.RFC3339Nano, exps[0])
	if err != nil {
		return "", time.Time{}, false, fmt.Errorf("%w: %s: %w", ErrMetadata, MetadataExpiresKey, err)
	}
	if toks[0] == "" {
		return "", time.Time{}, false, fmt.Errorf("%w: %s is empty", ErrMetadata, MetadataKey)
	}
	return toks[0], expires, true, nil
}

var _ credentials.PerRPCCredentials = (*perRPC)(nil)
