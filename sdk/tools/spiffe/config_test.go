// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package spiffe_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/nsmesh/nsmesh/sdk/tools/spiffe"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// clearEnv unsets the identity variables for the test (restored after).
func clearEnv(t *testing.T) {
	for _, k := range []string{spiffe.EnvEndpointSocket, spiffe.EnvSVIDDir, spiffe.EnvInsecure} {
		t.Setenv(k, "")
		_ = os.Unsetenv(k)
	}
}

func TestFromEnv(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name    string
		env     map[string]string
		mode    spiffe.Mode
		err     error
		message []string
	}{
		{name: "nothing set", err: spiffe.ErrNoIdentity,
			message: []string{"SPIFFE_ENDPOINT_SOCKET", "NSM_SVID_DIR", "NSM_INSECURE=true"}},
		{name: "insecure false is not a choice", env: map[string]string{"NSM_INSECURE": "false"}, err: spiffe.ErrNoIdentity},
		{name: "insecure", env: map[string]string{"NSM_INSECURE": "true"}, mode: spiffe.ModeInsecure},
		{name: "insecure garbage", env: map[string]string{"NSM_INSECURE": "yes please"}, err: spiffe.ErrBadConfig, message: []string{`NSM_INSECURE="yes please"`}},
		{name: "workload api", env: map[string]string{"SPIFFE_ENDPOINT_SOCKET": "unix:///run/spire/agent.sock"}, mode: spiffe.ModeWorkloadAPI},
		{name: "workload api bad address", env: map[string]string{"SPIFFE_ENDPOINT_SOCKET": "/run/spire/agent.sock"}, err: spiffe.ErrBadConfig,
			message: []string{"SPIFFE_ENDPOINT_SOCKET", "unix:///"}},
		{name: "svid dir", env: map[string]string{"NSM_SVID_DIR": dir}, mode: spiffe.ModeFiles},
		{name: "svid dir missing", env: map[string]string{"NSM_SVID_DIR": dir + "/nope"}, err: spiffe.ErrBadConfig, message: []string{"not a directory"}},
		{name: "two sources", env: map[string]string{"NSM_SVID_DIR": dir, "SPIFFE_ENDPOINT_SOCKET": "unix:///a.sock"}, err: spiffe.ErrConflict,
			message: []string{"SPIFFE_ENDPOINT_SOCKET and NSM_SVID_DIR"}},
		{name: "source and insecure", env: map[string]string{"NSM_SVID_DIR": dir, "NSM_INSECURE": "true"}, err: spiffe.ErrConflict},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			cfg, err := spiffe.FromEnv()
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("got %v, want %v", err, tt.err)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("message is not one line: %q", err)
				}
				for _, m := range tt.message {
					if !strings.Contains(err.Error(), m) {
						t.Errorf("message %q does not mention %q", err, m)
					}
				}
				return
			}
			if err != nil || cfg.Mode != tt.mode {
				t.Fatalf("got %v %v, want mode %v", cfg, err, tt.mode)
			}
		})
	}
}
