// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package config

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nsmesh/nsmesh/sdk/tools/spiffe"
)

func TestCheck(t *testing.T) {
	good := func() env {
		return env{Name: "nsmgr", ListenOn: DefaultListenOn, RegistryURL: "tcp://127.0.0.1:5002",
			MaxTokenLifetime: 10 * time.Minute, DialTimeout: 750 * time.Millisecond, ForwarderNetworkServiceName: "forwarder", LogLevel: "INFO"}
	}
	ip := func() (net.IP, error) { return net.ParseIP("10.1.2.3"), nil }
	tests := []struct {
		name    string
		mod     func(*env)
		ipOf    func() (net.IP, error)
		public  string
		noReg   bool
		wantErr string
	}{
		{name: "defaults: unspecified host becomes the host's address", mod: func(*env) {}, public: "tcp://10.1.2.3:5001"},
		{name: "explicit public address", mod: func(e *env) { e.ListenOn = "unix:///tmp/x.sock,tcp://127.0.0.1:7001" }, public: "tcp://127.0.0.1:7001"},
		{name: "empty registry URL keeps registrations in memory", mod: func(e *env) { e.RegistryURL = "" }, public: "tcp://10.1.2.3:5001", noReg: true},
		{name: "no tcp listener", mod: func(e *env) { e.ListenOn = "unix:///tmp/x.sock" }, wantErr: "NSM_LISTEN_ON: \"unix:///tmp/x.sock\" has no tcp:// URL"},
		{name: "bad listen URL", mod: func(e *env) { e.ListenOn = "foo" }, wantErr: "NSM_LISTEN_ON: bad URL \"foo\""},
		{name: "bad registry URL", mod: func(e *env) { e.RegistryURL = "http://x" }, wantErr: "NSM_REGISTRY_URL: bad URL"},
		{name: "empty name", mod: func(e *env) { e.Name = " " }, wantErr: "NSM_NAME: must not be empty"},
		{name: "non-positive lifetime", mod: func(e *env) { e.MaxTokenLifetime = 0 }, wantErr: "NSM_MAX_TOKEN_LIFETIME"},
		{name: "non-positive dial timeout", mod: func(e *env) { e.DialTimeout = -time.Second }, wantErr: "NSM_DIAL_TIMEOUT"},
		{name: "bad log level", mod: func(e *env) { e.LogLevel = "LOUD" }, wantErr: "NSM_LOG_LEVEL: bad value \"LOUD\""},
		{name: "empty forwarder service", mod: func(e *env) { e.ForwarderNetworkServiceName = "" }, wantErr: "NSM_FORWARDER_NETWORK_SERVICE_NAME"},
		{name: "pprof listen address checked when enabled", mod: func(e *env) { e.PprofEnabled, e.PprofListenOn = true, "6060" }, wantErr: "NSM_PPROF_LISTEN_ON: bad value \"6060\": want host:port"},
		{name: "pprof listen address ignored when disabled", mod: func(e *env) { e.PprofListenOn = "6060" }, public: "tcp://10.1.2.3:5001"},
		{name: "shipped example policy", mod: func(e *env) { e.AuthorizePolicies = "../../../deploy/policies/allowed_clients.rego" }, public: "tcp://10.1.2.3:5001"},
		{name: "upstream's built-in registry masks are native", mod: func(e *env) {
			e.RegistryServerPolicies = "etc/nsm/opa/common/.*.rego,etc/nsm/opa/registry/.*.rego,etc/nsm/opa/server/.*.rego"
		}, public: "tcp://10.1.2.3:5001"},
		{name: "authorize policy mask matching nothing", mod: func(e *env) { e.AuthorizePolicies = "/nonexistent/*.rego" },
			wantErr: "NSM_AUTHORIZE_POLICIES: \"/nonexistent/*.rego\" matches no .rego file"},
		{name: "registry policy that does not compile", mod: func(e *env) { e.RegistryServerPolicies = "config_test.go" },
			wantErr: "NSM_REGISTRY_SERVER_POLICIES: config_test.go:"},
		{name: "upstream's built-in registry client masks are native", mod: func(e *env) {
			e.RegistryClientPolicies = "etc/nsm/opa/common/.*.rego,etc/nsm/opa/registry/.*.rego,etc/nsm/opa/client/.*.rego"
		}, public: "tcp://10.1.2.3:5001"},
		{name: "registry client policy that does not compile", mod: func(e *env) { e.RegistryClientPolicies = "config_test.go" },
			wantErr: "NSM_REGISTRY_CLIENT_POLICIES: config_test.go:"},
		{name: "no host address for an unspecified listener", mod: func(*env) {}, ipOf: func() (net.IP, error) { return nil, errors.New("no interfaces") }, wantErr: "name the address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := good()
			tt.mod(&e)
			f := ip
			if tt.ipOf != nil {
				f = tt.ipOf
			}
			c, err := check(&e, f)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Fatalf("error is not one line: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.PublicURL.String() != tt.public {
				t.Fatalf("public URL %s, want %s", c.PublicURL, tt.public)
			}
			if (c.RegistryURL == nil) != tt.noReg {
				t.Fatalf("registry URL %v", c.RegistryURL)
			}
		})
	}
}

func TestLoadReadsEnvironment(t *testing.T) {
	t.Setenv("NSM_INSECURE", "true")
	t.Setenv("NSM_NAME", "mgr-a")
	t.Setenv("NSM_LISTEN_ON", "unix:///tmp/a.sock,tcp://127.0.0.1:6001")
	t.Setenv("NSM_DIAL_TIMEOUT", "2s")
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "mgr-a" || c.DialTimeout != 2*time.Second || len(c.ListenOn) != 2 {
		t.Fatalf("config %+v", c)
	}
	if c.PprofListenOn != "" {
		t.Fatalf("pprof %q by default", c.PprofListenOn)
	}
	t.Setenv("NSM_PPROF_ENABLED", "true")
	if c, err = Load(); err != nil {
		t.Fatal(err)
	}
	if c.PprofListenOn != "localhost:6060" {
		t.Fatalf("pprof %q, want upstream's default localhost:6060", c.PprofListenOn)
	}
	t.Setenv("NSM_DIAL_TIMEOUT", "soon")
	if _, err := Load(); err == nil || !strings.Contains(err.Error(), "NSM_DIAL_TIMEOUT") {
		t.Fatalf("err = %v", err)
	}
}

// Without an identity the nsmgr does not start; the message names the
// variables that give it one.
func TestLoadNeedsAnIdentity(t *testing.T) {
	for _, k := range []string{"SPIFFE_ENDPOINT_SOCKET", "NSM_SVID_DIR", "NSM_INSECURE"} {
		t.Setenv(k, "")
	}
	t.Setenv("NSM_LISTEN_ON", "unix:///tmp/a.sock,tcp://127.0.0.1:6001")
	_, err := Load()
	if !errors.Is(err, spiffe.ErrNoIdentity) {
		t.Fatalf("err = %v, want ErrNoIdentity", err)
	}
	for _, v := range []string{"SPIFFE_ENDPOINT_SOCKET", "NSM_SVID_DIR", "NSM_INSECURE=true"} {
		if !strings.Contains(err.Error(), v) {
			t.Errorf("%q does not name %s", err, v)
		}
	}
	dir := t.TempDir()
	t.Setenv("NSM_SVID_DIR", dir)
	c, err := Load()
	if err != nil || c.Identity.Mode != spiffe.ModeFiles || c.Identity.SVIDDir != dir {
		t.Fatalf("with NSM_SVID_DIR: %+v, %v", c, err)
	}
}
