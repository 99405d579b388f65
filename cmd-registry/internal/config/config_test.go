// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"go.uber.org/goleak"

	"github.com/nsmesh/nsmesh/cmd-registry/internal/config"
	"github.com/nsmesh/nsmesh/sdk/tools/spiffe"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var vars = []string{"NSM_NAME", "NSM_LISTEN_ON", "NSM_MAX_TOKEN_LIFETIME", "NSM_EXPIRE_PERIOD", "NSM_LOG_LEVEL", "NSM_PROXY_REGISTRY_URL", "NSM_REGISTRY_SERVER_POLICIES",
	"SPIFFE_ENDPOINT_SOCKET", "NSM_SVID_DIR", "NSM_INSECURE"}

func TestLoad(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		check   func(t *testing.T, c *config.Config)
		wantErr string
	}{
		{
			name: "defaults",
			check: func(t *testing.T, c *config.Config) {
				if c.Name != "registry" || len(c.ListenOn) != 1 || c.ListenOn[0].String() != "tcp://:5002" ||
					c.MaxTokenLifetime != 10*time.Minute || c.ExpirePeriod != time.Minute || c.LogLevel != logrus.InfoLevel {
					t.Fatalf("defaults: %+v", c)
				}
			},
		},
		{
			name: "everything set",
			env: map[string]string{
				"NSM_NAME": "reg-a", "NSM_LISTEN_ON": "unix:///run/reg.sock, tcp://127.0.0.1:6002",
				"NSM_MAX_TOKEN_LIFETIME": "1h", "NSM_EXPIRE_PERIOD": "30s", "NSM_LOG_LEVEL": "debug",
				"NSM_PROXY_REGISTRY_URL": "tcp://proxy:5004",
			},
			check: func(t *testing.T, c *config.Config) {
				if c.Name != "reg-a" || len(c.ListenOn) != 2 || c.ListenOn[0].Path != "/run/reg.sock" || c.ListenOn[1].Host != "127.0.0.1:6002" ||
					c.MaxTokenLifetime != time.Hour || c.ExpirePeriod != 30*time.Second || c.LogLevel != logrus.DebugLevel ||
					c.ProxyRegistryURL != "tcp://proxy:5004" {
					t.Fatalf("parsed %+v", c)
				}
			},
		},
		{name: "bad scheme", env: map[string]string{"NSM_LISTEN_ON": "foo"}, wantErr: `NSM_LISTEN_ON: bad URL "foo": scheme must be unix or tcp`},
		{name: "tcp without port", env: map[string]string{"NSM_LISTEN_ON": "tcp://host"}, wantErr: `NSM_LISTEN_ON: bad URL "tcp://host": tcp URL needs host:port`},
		{name: "empty listen list", env: map[string]string{"NSM_LISTEN_ON": " , "}, wantErr: "NSM_LISTEN_ON: bad URL: empty list"},
		{name: "bad duration", env: map[string]string{"NSM_MAX_TOKEN_LIFETIME": "ten"}, wantErr: `NSM_MAX_TOKEN_LIFETIME: bad value "ten"`},
		{name: "zero token lifetime", env: map[string]string{"NSM_MAX_TOKEN_LIFETIME": "0s"}, wantErr: "NSM_MAX_TOKEN_LIFETIME: 0s: must be positive"},
		{name: "negative expire period", env: map[string]string{"NSM_EXPIRE_PERIOD": "-1m"}, wantErr: "NSM_EXPIRE_PERIOD: -1m0s: must be positive"},
		{name: "bad log level", env: map[string]string{"NSM_LOG_LEVEL": "LOUD"}, wantErr: `NSM_LOG_LEVEL: bad value "LOUD"`},
		{name: "empty name", env: map[string]string{"NSM_NAME": " "}, wantErr: "NSM_NAME: must not be empty"},
		{name: "no identity", env: map[string]string{"NSM_INSECURE": ""},
			wantErr: "spiffe: no identity: set SPIFFE_ENDPOINT_SOCKET (SPIFFE Workload API), NSM_SVID_DIR"},
		{name: "two identities", env: map[string]string{"NSM_SVID_DIR": os.TempDir()}, wantErr: "spiffe: conflicting identity settings"},
		{name: "svid directory", env: map[string]string{"NSM_INSECURE": "", "NSM_SVID_DIR": os.TempDir()},
			check: func(t *testing.T, c *config.Config) {
				if c.Identity.Mode != spiffe.ModeFiles || c.Identity.SVIDDir != os.TempDir() {
					t.Fatalf("identity %v", c.Identity)
				}
			}},
		{name: "registry server policies", env: map[string]string{"NSM_REGISTRY_SERVER_POLICIES": policy(t, "valid := true") + ",etc/nsm/opa/common/.*.rego"},
			check: func(t *testing.T, c *config.Config) {
				if len(c.RegistryServerPolicies) != 1 || c.RegistryServerPolicies[0].Name() != "p" {
					t.Fatalf("policies %v, want p", c.RegistryServerPolicies)
				}
			}},
		{name: "policy that does not compile", env: map[string]string{"NSM_REGISTRY_SERVER_POLICIES": policy(t, "valid if {")},
			wantErr: "NSM_REGISTRY_SERVER_POLICIES: "},
		{name: "policy mask that matches nothing", env: map[string]string{"NSM_REGISTRY_SERVER_POLICIES": "/nonexistent/*.rego"},
			wantErr: `NSM_REGISTRY_SERVER_POLICIES: "/nonexistent/*.rego" matches no .rego file`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, v := range vars {
				if old, ok := os.LookupEnv(v); ok {
					t.Setenv(v, old) // restored after the test
					_ = os.Unsetenv(v)
				}
			}
			t.Setenv("NSM_INSECURE", "true") // an identity is required
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			c, err := config.Load()
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one starting with %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Fatalf("error spans lines: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func FuzzListenOn(f *testing.F) {
	f.Add("tcp://:5002")
	f.Add("unix:///a,tcp://1.2.3.4:5")
	f.Add("foo")
	f.Fuzz(func(t *testing.T, s string) {
		if strings.ContainsRune(s, 0) {
			return // not representable in the environment
		}
		t.Setenv("NSM_INSECURE", "true")
		t.Setenv("NSM_LISTEN_ON", s)
		c, err := config.Load()
		if err != nil {
			if !strings.HasPrefix(err.Error(), "NSM_LISTEN_ON: ") {
				t.Fatalf("error does not name the variable: %v", err)
			}
			return
		}
		for _, u := range c.ListenOn {
			if u.Scheme != "unix" && u.Scheme != "tcp" {
				t.Fatalf("accepted %s", u)
			}
		}
	})
}

// policy writes a package nsm policy with body and returns its file.
func policy(t *testing.T, body string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "p.rego")
	if err := os.WriteFile(f, []byte("package nsm\n"+body+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}
