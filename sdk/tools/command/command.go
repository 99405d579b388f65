// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package command holds what every nsmesh binary does the same way: reading
// NSM_* variables with one-line errors, its logger and the log-level
// signals, and its development identity.
package command

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/kelseyhightower/envconfig"
	"github.com/sirupsen/logrus"

	"github.com/nsmesh/nsmesh/sdk/token"
)

// Prefix of every variable.
const Prefix = "NSM"

// TrustDomain is the SPIFFE trust domain of development identities.
const TrustDomain = "nsmesh.local"

// Process fills spec from the NSM_* environment; a bad value becomes a
// one-line error naming the variable.
func Process(spec any) error {
	if err := envconfig.Process(Prefix, spec); err != nil {
		var pe *envconfig.ParseError
		if errors.As(err, &pe) {
			return fmt.Errorf("%s: bad value %q: %v", pe.KeyName, pe.Value, pe.Err)
		}
		return err
	}
	return nil
}

// ParseLevel parses NSM_LOG_LEVEL.
func ParseLevel(s string) (logrus.Level, error) {
	l, err := logrus.ParseLevel(s)
	if err != nil {
		return 0, fmt.Errorf("NSM_LOG_LEVEL: bad value %q: want one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL, PANIC", s)
	}
	return l, nil
}

// NewLogger returns the logger of a binary, on stderr at level. Until ctx
// ends, SIGUSR1 switches it to TRACE and SIGUSR2 back to level, as upstream
// binaries do.
func NewLogger(ctx context.Context, level logrus.Level) *logrus.Logger {
	l := logrus.New()
	l.SetOutput(os.Stderr)
	l.SetLevel(level)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGUSR1, syscall.SIGUSR2)
	go func() {
		defer signal.Stop(ch)
		for {
			select {
			case <-ctx.Done():
				return
			case s := <-ch:
				if s == syscall.SIGUSR1 {
					l.SetLevel(logrus.TraceLevel)
				} else {
					l.SetLevel(level)
				}
			}
		}
	}()
	return l
}

// DevIdentity returns a token generator with a fresh P-256 key for the
// SPIFFE ID spiffe://nsmesh.local/<kind>/<name>: development mode, until the
// binary gets a real SVID.
func DevIdentity(kind, name string, lifetime time.Duration) (token.Generator, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("command: key: %w", err)
	}
	gen, err := token.NewJWTGenerator(key, fmt.Sprintf("spiffe://%s/%s/%s", TrustDomain, kind, name), lifetime)
	if err != nil {
		return nil, fmt.Errorf("command: token generator: %w", err)
	}
	return gen, nil
}
