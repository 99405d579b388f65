// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package spiffe_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/nsmesh/nsmesh/sdk/tools/spiffe"
	"github.com/nsmesh/nsmesh/sdk/tools/spiffe/devca"
	"github.com/nsmesh/nsmesh/sdk/tools/spiffe/fakeworkload"
)

func id(s string) spiffeid.ID { return spiffeid.RequireFromString(s) }

func issue(t testing.TB, ca *devca.CA, spiffeID string, ttl time.Duration) *x509svid.SVID {
	t.Helper()
	svid, err := ca.Issue(id(spiffeID), ttl)
	if err != nil {
		t.Fatal(err)
	}
	return svid
}

func serialOf(t *testing.T, src spiffe.Source) string {
	t.Helper()
	svid, err := src.GetX509SVID()
	if err != nil {
		t.Fatal(err)
	}
	return svid.Certificates[0].SerialNumber.String()
}

// waitUpdated waits for a source's update signal.
func waitUpdated(t *testing.T, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("source did not pick up the rotation")
	}
}

func TestFileSourceRotatesWithoutRestart(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ca := devca.MustNew("nsmesh.local")
	dir := t.TempDir()
	me := id("spiffe://nsmesh.local/nsmgr/a")
	if _, err := ca.IssueToDir(dir, me, time.Hour); err != nil {
		t.Fatal(err)
	}
	src, err := spiffe.NewFileSource(ctx, dir, spiffe.WithPollInterval(10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	first := serialOf(t, src)

	// A complete rotation is picked up.
	next, err := ca.IssueToDir(dir, me, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	waitUpdated(t, src.Updated())
	if got := serialOf(t, src); got != next.Certificates[0].SerialNumber.String() || got == first {
		t.Fatalf("serial %s after rotation, want %s", got, next.Certificates[0].SerialNumber)
	}

	// Half a rotation (a new key, the old certificate) is not.
	half := issue(t, ca, me.String(), time.Hour)
	_, keyPEM, err := half.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, spiffe.KeyFile), keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if got := serialOf(t, src); got != next.Certificates[0].SerialNumber.String() {
		t.Fatalf("a key without its certificate replaced the SVID (serial %s)", got)
	}
	// Its certificate completes it.
	if err := devca.WriteSVID(dir, half, ca.Bundle()); err != nil {
		t.Fatal(err)
	}
	waitUpdated(t, src.Updated())
	if got := serialOf(t, src); got != half.Certificates[0].SerialNumber.String() {
		t.Fatalf("serial %s, want the completed rotation's %s", got, half.Certificates[0].SerialNumber)
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := src.GetX509SVID(); !errors.Is(err, spiffe.ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
}

func TestFileSourceRefusesFilesThatDoNotBelongTogether(t *testing.T) {
	ca := devca.MustNew("nsmesh.local")
	other := devca.MustNew("nsmesh.local")
	me := id("spiffe://nsmesh.local/nse/a")
	for _, tt := range []struct {
		name  string
		setup func(dir string) error
	}{
		{"empty directory", func(string) error { return nil }},
		{"certificate of another CA", func(dir string) error {
			return devca.WriteSVID(dir, issue(t, other, me.String(), time.Hour), ca.Bundle())
		}},
		{"key of another SVID", func(dir string) error {
			if err := devca.WriteSVID(dir, issue(t, ca, me.String(), time.Hour), ca.Bundle()); err != nil {
				return err
			}
			_, key, err := issue(t, ca, me.String(), time.Hour).Marshal()
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, spiffe.KeyFile), key, 0o600)
		}},
		{"expired SVID", func(dir string) error {
			svid := issue(t, ca, me.String(), time.Millisecond)
			time.Sleep(5 * time.Millisecond)
			return devca.WriteSVID(dir, svid, ca.Bundle())
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := tt.setup(dir); err != nil {
				t.Fatal(err)
			}
			src, err := spiffe.NewFileSource(context.Background(), dir)
			if err == nil {
				_ = src.Close()
				t.Fatal("loaded")
			}
			if !errors.Is(err, spiffe.ErrSVID) {
				t.Fatalf("got %v, want ErrSVID", err)
			}
		})
	}
}

func TestWorkloadSourceFollowsTheAgent(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ca := devca.MustNew("nsmesh.local")
	sock := filepath.Join(t.TempDir(), "agent.sock")
	agent, err := fakeworkload.Start(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Stop()
	first := issue(t, ca, "spiffe://nsmesh.local/nsc/a", time.Hour)
	if err := agent.Set(first, ca.Bundle()); err != nil {
		t.Fatal(err)
	}
	t.Setenv(spiffe.EnvEndpointSocket, agent.Addr())
	cfg, err := spiffe.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	ident, err := spiffe.Open(ctx, cfg, "nsc", "a", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer ident.Close()
	if ident.Mode() != spiffe.ModeWorkloadAPI || ident.ID() != "spiffe://nsmesh.local/nsc/a" {
		t.Fatalf("mode %v id %s", ident.Mode(), ident.ID())
	}
	src := ident.Source().(*spiffe.WorkloadSource)
	if got := serialOf(t, src); got != first.Certificates[0].SerialNumber.String() {
		t.Fatalf("serial %s", got)
	}
	second := issue(t, ca, "spiffe://nsmesh.local/nsc/a", time.Hour)
	if err := agent.Set(second, ca.Bundle()); err != nil {
		t.Fatal(err)
	}
	if err := src.WaitUntilUpdated(ctx); err != nil {
		t.Fatal(err)
	}
	if got := serialOf(t, src); got != second.Certificates[0].SerialNumber.String() {
		t.Fatalf("serial %s after the agent rotated", got)
	}
}

func TestWorkloadSourceWithoutAgent(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := spiffe.NewWorkloadSource(ctx, "unix://"+filepath.Join(t.TempDir(), "none.sock"))
	if !errors.Is(err, spiffe.ErrWorkloadAPI) {
		t.Fatalf("got %v, want ErrWorkloadAPI", err)
	}
}
