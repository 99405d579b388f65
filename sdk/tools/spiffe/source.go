// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package spiffe

import (
	"fmt"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/nsmesh/nsmesh/sdk/token"
	"github.com/nsmesh/nsmesh/sdk/tools/log"
)

// Source is a process's current X.509-SVID and the trust bundles it checks
// peers against. Both may change at any time (rotation); callers fetch them
// for each use and never keep them.
type Source interface {
	x509svid.Source
	x509bundle.Source
	// Close releases the source (watchers, Workload API stream).
	Close() error
}

// Option configures a source or Open.
type Option func(*options)

type options struct {
	logger    logrus.FieldLogger
	poll      time.Duration
	tokenOpts []token.GeneratorOption
}

// DefaultPollInterval is how often a FileSource looks at its files.
const DefaultPollInterval = time.Second

// WithLogger logs rotations, reload failures and the identity in use.
func WithLogger(l logrus.FieldLogger) Option { return func(o *options) { o.logger = l } }

// WithPollInterval sets how often a FileSource checks its files
// (DefaultPollInterval).
func WithPollInterval(d time.Duration) Option { return func(o *options) { o.poll = d } }

// WithTokenOptions passes options to the token generator
// (token.WithClock in tests).
func WithTokenOptions(opts ...token.GeneratorOption) Option {
	return func(o *options) { o.tokenOpts = append(o.tokenOpts, opts...) }
}

func applyOptions(opts []Option) options {
	o := options{logger: log.Discard(), poll: DefaultPollInterval}
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = log.Discard()
	}
	if o.poll <= 0 {
		o.poll = DefaultPollInterval
	}
	return o
}

// MemorySource is a Source held in memory; Set rotates it. Tests and the
// in-process sandbox use it.
type MemorySource struct {
	mu      sync.RWMutex
	svid    *x509svid.SVID
	bundles *x509bundle.Set
	closed  bool
}

// NewMemorySource returns a source holding svid and trusting bundles.
func NewMemorySource(svid *x509svid.SVID, bundles ...*x509bundle.Bundle) (*MemorySource, error) {
	if err := checkSVID(svid); err != nil {
		return nil, err
	}
	return &MemorySource{svid: svid, bundles: x509bundle.NewSet(bundles...)}, nil
}

// Set replaces the SVID (a rotation).
func (s *MemorySource) Set(svid *x509svid.SVID) error {
	if err := checkSVID(svid); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.svid = svid
	return nil
}

// SetBundles replaces the trusted bundles.
func (s *MemorySource) SetBundles(bundles ...*x509bundle.Bundle) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bundles = x509bundle.NewSet(bundles...)
}

// GetX509SVID implements x509svid.Source.
func (s *MemorySource) GetX509SVID() (*x509svid.SVID, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, ErrClosed
	}
	return s.svid, nil
}

// GetX509BundleForTrustDomain implements x509bundle.Source.
func (s *MemorySource) GetX509BundleForTrustDomain(td spiffeid.TrustDomain) (*x509bundle.Bundle, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, ErrClosed
	}
	return s.bundles.GetX509BundleForTrustDomain(td)
}

// Close implements Source; later calls fail with ErrClosed.
func (s *MemorySource) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

func checkSVID(svid *x509svid.SVID) error {
	if svid == nil || len(svid.Certificates) == 0 || svid.PrivateKey == nil || svid.ID.IsZero() {
		return fmt.Errorf("%w: incomplete SVID", ErrSVID)
	}
	return nil
}

var (
	_ Source = (*MemorySource)(nil)
	_ Source = (*FileSource)(nil)
	_ Source = (*WorkloadSource)(nil)
)
