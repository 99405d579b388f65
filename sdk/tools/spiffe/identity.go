// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package spiffe

import (
	"context"
	"fmt"
	"time"

	"github.com/sirupsen/logrus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/nsmesh/nsmesh/sdk/token"
	"github.com/nsmesh/nsmesh/sdk/tools/command"
)

// Identity is everything a process's gRPC servers and clients need from its
// identity: transport credentials, a token generator and per-RPC
// credentials, all from one Source. Its credentials remember which SVID
// each TLS connection presented, and its generator signs the tokens for a
// connection's peer with that SVID, so that an SVID rotation never yields a
// token the peer cannot verify with the certificate it saw (connections
// still on a rotated SVID are closed before it expires; gRPC reconnects).
//
// In the insecure mode it is plaintext with an ephemeral signing key
// (command.DevIdentity).
type Identity struct {
	log   logrus.FieldLogger
	mode  Mode
	src   Source
	owned bool
	t     *tracker
	gen   token.Generator
	devID string
}

// Open makes the identity cfg describes: it opens the source (waiting for
// the Workload API's first SVID until ctx ends) and a token generator with
// maxTokenLifetime. kind and name name the ephemeral identity of the
// insecure mode (spiffe://nsmesh.local/<kind>/<name>). Close releases it.
func Open(ctx context.Context, cfg Config, kind, name string, maxTokenLifetime time.Duration, opts ...Option) (*Identity, error) {
	o := applyOptions(opts)
	var src Source
	var err error
	switch cfg.Mode {
	case ModeInsecure:
		gen, err := command.DevIdentity(kind, name, maxTokenLifetime)
		if err != nil {
			return nil, fmt.Errorf("spiffe: %w", err)
		}
		id := fmt.Sprintf("spiffe://%s/%s/%s", command.TrustDomain, kind, name)
		o.logger.WithField(EnvInsecure, true).
			Warn("insecure: no TLS: plaintext gRPC, path tokens from an ephemeral key no peer can check; for tests and development only")
		return &Identity{log: o.logger, mode: ModeInsecure, gen: gen, devID: id}, nil
	case ModeFiles:
		src, err = NewFileSource(ctx, cfg.SVIDDir, opts...)
	case ModeWorkloadAPI:
		src, err = NewWorkloadSource(ctx, cfg.EndpointSocket, opts...)
	default:
		err = fmt.Errorf("%w: the configuration names no source (read it with FromEnv)", ErrNoIdentity)
	}
	if err != nil {
		return nil, err
	}
	id, err := FromSource(src, maxTokenLifetime, opts...)
	if err != nil {
		_ = src.Close()
		return nil, err
	}
	id.owned = true
	svid, _ := src.GetX509SVID()
	o.logger.WithFields(logrus.Fields{
		"spiffe_id": svid.ID.String(),
		"not_after": svid.Certificates[0].NotAfter.UTC().Format(time.RFC3339),
		"source":    cfg.String(),
	}).Info("identity: mTLS with X.509-SVID")
	return id, nil
}

// FromSource returns an mTLS identity for src, which the caller keeps
// owning (Close does not close it). Options: WithLogger (refused handshakes,
// connections closed for rotation), WithTokenOptions.
func FromSource(src Source, maxTokenLifetime time.Duration, opts ...Option) (*Identity, error) {
	o := applyOptions(opts)
	gen, err := NewTokenGenerator(src, maxTokenLifetime, o.tokenOpts...)
	if err != nil {
		return nil, err
	}
	gen.t = newTracker(src, o.logger)
	mode := ModeMemory
	switch src.(type) {
	case *FileSource:
		mode = ModeFiles
	case *WorkloadSource:
		mode = ModeWorkloadAPI
	}
	return &Identity{log: o.logger, mode: mode, src: src, t: gen.t, gen: gen}, nil
}

// Mode says where the identity comes from.
func (i *Identity) Mode() Mode { return i.mode }

// Insecure reports the plaintext development mode.
func (i *Identity) Insecure() bool { return i.mode == ModeInsecure }

// Source returns the SVID source; nil in the insecure mode.
func (i *Identity) Source() Source { return i.src }

// ID returns the current SPIFFE ID ("" when the source is closed).
func (i *Identity) ID() string {
	if i.src == nil {
		return i.devID
	}
	svid, err := i.src.GetX509SVID()
	if err != nil {
		return ""
	}
	return svid.ID.String()
}

// TokenGenerator returns the path-token generator: ES256 with the SVID key
// (see TokenGenerator), bound to connections as the type says.
func (i *Identity) TokenGenerator() token.Generator { return i.gen }

// ServerCredentials returns the servers' transport credentials: mTLS
// (ServerTLSConfig, without session resumption), or plaintext in the
// insecure mode. A refused handshake is logged with the reason: the
// refused client often sees only a reset connection. Servers that receive
// file descriptors wrap them with fdpass.ServerOptions.
func (i *Identity) ServerCredentials() credentials.TransportCredentials {
	if i.src == nil {
		return insecure.NewCredentials()
	}
	return newBoundCreds(i.t, true)
}

// ClientCredentials returns the clients' transport credentials: mTLS
// (ClientTLSConfig), or plaintext in the insecure mode. Clients that send
// file descriptors wrap them with fdpass.DialOptions.
func (i *Identity) ClientCredentials() credentials.TransportCredentials {
	if i.src == nil {
		return insecure.NewCredentials()
	}
	return newBoundCreds(i.t, false)
}

// PerRPCCredentials returns the call credentials that send a path token
// made for the server on every call (token.NewPerRPCCredentials, which
// requires TLS; token.NewInsecurePerRPCCredentials in the insecure mode).
func (i *Identity) PerRPCCredentials() credentials.PerRPCCredentials {
	if i.src == nil {
		return token.NewInsecurePerRPCCredentials(i.gen)
	}
	return token.NewPerRPCCredentials(i.gen)
}

// DialOptions returns transport and per-RPC credentials as dial options,
// for clients that pass no file descriptors (others use
// fdpass.DialOptions(ClientCredentials()) and add PerRPCCredentials).
func (i *Identity) DialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithTransportCredentials(i.ClientCredentials()),
		grpc.WithPerRPCCredentials(i.PerRPCCredentials()),
	}
}

// ServerOptions returns ServerCredentials as a server option, for servers
// that receive no file descriptors.
func (i *Identity) ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.Creds(i.ServerCredentials())}
}

// Close releases the source Open made.
func (i *Identity) Close() error {
	if i.owned && i.src != nil {
		return i.src.Close()
	}
	return nil
}
