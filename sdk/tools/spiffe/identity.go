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
	"github.com/nsmesh/nsmesh/sdk/tools/log"
)

// Identity is everything a process's gRPC servers and clients need from its
// identity. In the insecure mode it is plaintext with an ephemeral signing
// key (command.DevIdentity); every other mode is mTLS from a Source.
type Identity struct {
	log   logrus.FieldLogger
	mode  Mode
	src   Source
	owned bool
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
	id, err := FromSource(src, maxTokenLifetime)
	if err != nil {
		_ = src.Close()
		return nil, err
	}
	id.owned, id.log = true, o.logger
	svid, _ := src.GetX509SVID()
	o.logger.WithFields(logrus.Fields{
		"spiffe_id": svid.ID.String(),
		"not_after": svid.Certificates[0].NotAfter.UTC().Format(time.RFC3339),
		"source":    cfg.String(),
	}).Info("identity: mTLS with X.509-SVID")
	return id, nil
}

// FromSource returns an mTLS identity for src, which the caller keeps
// owning (Close does not close it). It logs nothing; SetLogger sets where
// refused handshakes are logged.
func FromSource(src Source, maxTokenLifetime time.Duration, opts ...token.GeneratorOption) (*Identity, error) {
	gen, err := NewTokenGenerator(src, maxTokenLifetime, opts...)
	if err != nil {
		return nil, err
	}
	mode := ModeMemory
	switch src.(type) {
	case *FileSource:
		mode = ModeFiles
	case *WorkloadSource:
		mode = ModeWorkloadAPI
	}
	return &Identity{log: log.Discard(), mode: mode, src: src, gen: gen}, nil
}

// SetLogger sets where the identity logs refused handshakes.
func (i *Identity) SetLogger(l logrus.FieldLogger) {
	if l != nil {
		i.log = l
	}
}

// Mode says where the identity comes from.
func (i *Identity) Mode() Mode { return i.mode }

// Insecure reports the plaintext development mode.
func (i *Identity) Insecure() bool { return i.mode == ModeInsecure }

// Source returns the SVID source; nil in the insecure mode.
func (i *Identity) Source() Source { return i.src }

// ID returns the current SPIFFE ID.
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

// TokenGenerator returns the path-token generator (SVID-backed, see
// TokenGenerator).
func (i *Identity) TokenGenerator() token.Generator { return i.gen }

// ServerCredentials returns the servers' transport credentials: mTLS, or
// plaintext in the insecure mode.
func (i *Identity) ServerCredentials() credentials.TransportCredentials {
	if i.src == nil {
		return insecure.NewCredentials()
	}
	return ServerCredentials(i.src, WithLogger(i.log))
}

// ClientCredentials returns the clients' transport credentials: mTLS, or
// plaintext in the insecure mode.
func (i *Identity) ClientCredentials() credentials.TransportCredentials {
	if i.src == nil {
		return insecure.NewCredentials()
	}
	return ClientCredentials(i.src)
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

// Close releases the source Open made.
func (i *Identity) Close() error {
	if i.owned && i.src != nil {
		return i.src.Close()
	}
	return nil
}
