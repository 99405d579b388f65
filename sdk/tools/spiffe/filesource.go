// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package spiffe

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// FileSource is a Source read from an SVID directory (SVIDFile, KeyFile,
// BundleFile). It polls the files and reloads them when one changes; a set
// of files that does not load (a rotation half written, a key that does not
// match the certificate, a certificate the bundle does not sign) is logged
// and skipped, and the previous SVID stays in use until the files agree.
//
// The bundle file holds the authorities of the SVID's own trust domain.
type FileSource struct {
	dir string
	o   options

	mu     sync.RWMutex
	svid   *x509svid.SVID
	bundle *x509bundle.Bundle
	closed bool

	updated chan struct{}
	cancel  context.CancelFunc
	done    chan struct{}
}

// NewFileSource loads the SVID directory dir and watches it until ctx ends
// or Close. The first load must succeed.
func NewFileSource(ctx context.Context, dir string, opts ...Option) (*FileSource, error) {
	o := applyOptions(opts)
	fp, err := fingerprintOf(dir)
	if err != nil {
		return nil, err
	}
	svid, bundle, err := loadDir(dir, time.Now())
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &FileSource{dir: dir, o: o, svid: svid, bundle: bundle, updated: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{})}
	go s.watch(ctx, fp)
	return s, nil
}

// GetX509SVID implements x509svid.Source.
func (s *FileSource) GetX509SVID() (*x509svid.SVID, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, ErrClosed
	}
	return s.svid, nil
}

// GetX509BundleForTrustDomain implements x509bundle.Source.
func (s *FileSource) GetX509BundleForTrustDomain(td spiffeid.TrustDomain) (*x509bundle.Bundle, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, ErrClosed
	}
	return s.bundle.GetX509BundleForTrustDomain(td)
}

// Updated is sent on (without blocking; one pending signal at most) after
// each reload that changed the SVID or the bundle.
func (s *FileSource) Updated() <-chan struct{} { return s.updated }

// Close stops watching; later calls fail with ErrClosed.
func (s *FileSource) Close() error {
	s.cancel()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

func (s *FileSource) watch(ctx context.Context, loaded fingerprint) {
	defer close(s.done)
	t := time.NewTicker(s.o.poll)
	defer t.Stop()
	log := s.o.logger.WithField("svid_dir", s.dir)
	var failed fingerprint
	var lastErr string
	warnedExpiry := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fp, err := fingerprintOf(s.dir)
		if err == nil && fp == loaded {
			warnedExpiry = s.warnExpired(log, warnedExpiry)
			continue
		}
		if err == nil {
			if fp == failed {
				continue // nothing new since the failure
			}
			var svid *x509svid.SVID
			var bundle *x509bundle.Bundle
			if svid, bundle, err = loadDir(s.dir, time.Now()); err == nil {
				loaded, failed, lastErr = fp, fingerprint{}, ""
				s.mu.Lock()
				same := svid.Certificates[0].Equal(s.svid.Certificates[0]) && bundle.Equal(s.bundle)
				if !same {
					s.svid, s.bundle = svid, bundle
				}
				s.mu.Unlock()
				if same {
					continue // files rewritten (or a rotation begun) with the same content
				}
				warnedExpiry = false
				log.WithFields(logrus.Fields{"spiffe_id": svid.ID.String(), "not_after": svid.Certificates[0].NotAfter.UTC().Format(time.RFC3339)}).
					Info("SVID reloaded")
				select {
				case s.updated <- struct{}{}:
				default:
				}
				continue
			}
			failed = fp
		}
		if err.Error() != lastErr {
			lastErr = err.Error()
			log.WithError(err).Warn("SVID files changed but do not load; keeping the current SVID")
		}
	}
}

func (s *FileSource) warnExpired(log logrus.FieldLogger, warned bool) bool {
	s.mu.RLock()
	notAfter := s.svid.Certificates[0].NotAfter
	s.mu.RUnlock()
	if warned || time.Now().Before(notAfter) {
		return warned
	}
	log.Errorf("SVID expired at %s and %s has nothing newer: TLS handshakes will fail", notAfter.UTC().Format(time.RFC3339), s.dir)
	return true
}

// loadDir reads and checks the three files of dir at now.
func loadDir(dir string, now time.Time) (*x509svid.SVID, *x509bundle.Bundle, error) {
	certPath, keyPath, bundlePath := filepath.Join(dir, SVIDFile), filepath.Join(dir, KeyFile), filepath.Join(dir, BundleFile)
	svid, err := x509svid.Load(certPath, keyPath)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s with %s: %w", ErrSVID, certPath, keyPath, err)
	}
	bundle, err := x509bundle.Load(svid.ID.TrustDomain(), bundlePath)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrSVID, err)
	}
	if _, _, err := x509svid.Verify(svid.Certificates, bundle, x509svid.WithTime(now)); err != nil {
		return nil, nil, fmt.Errorf("%w: %s does not verify against %s: %w", ErrSVID, certPath, bundlePath, err)
	}
	return svid, bundle, nil
}

// fingerprint tells whether any of the three files changed: an atomic
// rename changes the inode, an in-place write the time or size.
type fingerprint [3]struct {
	ino   uint64
	size  int64
	mtime int64
}

func fingerprintOf(dir string) (fingerprint, error) {
	var fp fingerprint
	for i, name := range []string{SVIDFile, KeyFile, BundleFile} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			return fingerprint{}, fmt.Errorf("%w: %w", ErrSVID, err)
		}
		fp[i].size, fp[i].mtime = st.Size(), st.ModTime().UnixNano()
		if sys, ok := st.Sys().(*syscall.Stat_t); ok {
			fp[i].ino = sys.Ino
		}
	}
	return fp, nil
}
