// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package app runs the registry: the memory registry chains of
// sdk/registry/chains/memory on one gRPC server, with grpc.health.v1, on
// every NSM_LISTEN_ON URL.
//
//	NS:  grpcmetadata → updatepath → authorize → payload default (IP) → memory
//	NSE: grpcmetadata → updatepath → authorize → begin → registration time → expire(NSM_EXPIRE_PERIOD) → memory
//
// authorize lets only the first registrant of a name register it again or
// unregister it, then runs the Rego policies of NSM_REGISTRY_SERVER_POLICIES.
package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"google.golang.org/grpc"

	"github.com/nsmesh/nsmesh/cmd-registry/internal/config"
	"github.com/nsmesh/nsmesh/sdk/registry/authorize"
	"github.com/nsmesh/nsmesh/sdk/registry/chains"
	"github.com/nsmesh/nsmesh/sdk/registry/chains/memory"
	"github.com/nsmesh/nsmesh/sdk/token"
	"github.com/nsmesh/nsmesh/sdk/tools/grpcutils"
	"github.com/nsmesh/nsmesh/sdk/tools/opa"
	"github.com/nsmesh/nsmesh/sdk/tools/spiffe"
)

// DefaultStopTimeout bounds the graceful stop; after it the server stops hard.
const DefaultStopTimeout = 5 * time.Second

// Option configures Run.
type Option func(*options)

type options struct {
	gen         token.Generator
	stopTimeout time.Duration
}

// WithTokenGenerator makes the registry sign its path tokens with gen instead
// of its identity's generator (tests).
func WithTokenGenerator(gen token.Generator) Option { return func(o *options) { o.gen = gen } }

// WithStopTimeout bounds the graceful stop (DefaultStopTimeout).
func WithStopTimeout(d time.Duration) Option { return func(o *options) { o.stopTimeout = d } }

// NewLogger returns the logger of the process, at the configured level.
func NewLogger(cfg *config.Config) *logrus.Logger {
	l := logrus.New()
	l.SetOutput(os.Stderr)
	l.SetLevel(cfg.LogLevel)
	return l
}

// Run serves the registry until ctx is done, then stops gracefully within the
// stop timeout. It returns an error when a listener cannot be opened or a
// server fails.
func Run(ctx context.Context, cfg *config.Config, logger logrus.FieldLogger, opts ...Option) error {
	o := options{stopTimeout: DefaultStopTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	log := logger.WithField("name", cfg.Name)
	if cfg.ProxyRegistryURL != "" {
		log.Warnf("NSM_PROXY_REGISTRY_URL=%s is ignored: interdomain registrations are not supported yet", cfg.ProxyRegistryURL)
	}
	// mTLS with the registry's SVID (plaintext only with NSM_INSECURE=true);
	// its path tokens are signed with the SVID key.
	ident, err := spiffe.Open(ctx, cfg.Identity, "registry", cfg.Name, cfg.MaxTokenLifetime, spiffe.WithLogger(log))
	if err != nil {
		return fmt.Errorf("identity: %w", err)
	}
	defer func() { _ = ident.Close() }()
	if o.gen == nil {
		o.gen = ident.TokenGenerator()
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	reg, err := memory.NewServer(ctx,
		memory.WithDefaultExpiration(cfg.ExpirePeriod),
		memory.WithTokenGenerator(o.gen),
		memory.WithLogger(log),
		memory.WithNSAuthorize(authorize.NewNSServer(authorize.WithLogger(log),
			authorize.WithAdditionalPolicies(opa.RegistryPolicies(cfg.RegistryServerPolicies)...))),
		memory.WithNSEAuthorize(authorize.NewNSEServer(authorize.WithLogger(log),
			authorize.WithAdditionalPolicies(opa.RegistryPolicies(cfg.RegistryServerPolicies)...))),
	)
	if err != nil {
		return fmt.Errorf("registry chain: %w", err)
	}
	srv := grpc.NewServer(ident.ServerOptions()...)
	health := chains.Register(srv, reg.NS, reg.NSE)

	errs := make(chan error, len(cfg.ListenOn))
	var wg sync.WaitGroup
	for _, u := range cfg.ListenOn {
		l, err := grpcutils.Listen(ctx, u)
		if err != nil {
			srv.Stop()
			wg.Wait()
			return err
		}
		log.Infof("listening on %s", grpcutils.ListenerURL(l))
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(l); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
				errs <- fmt.Errorf("serve %s: %w", u, err)
			}
		}()
	}

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("stopping")
	case runErr = <-errs:
		log.WithError(runErr).Error("server failed, stopping")
	}
	health.Shutdown()
	cancel() // ends open watches, so that the graceful stop can finish
	stopped := make(chan struct{})
	go func() {
		srv.GracefulStop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(o.stopTimeout):
		log.Warnf("graceful stop took longer than %s, stopping hard", o.stopTimeout)
		srv.Stop()
		<-stopped
	}
	wg.Wait()
	log.Info("stopped")
	return runErr
}
