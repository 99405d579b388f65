// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package config_test

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"go.uber.org/goleak"

	"github.com/nsmesh/nsmesh/apis/nsurl"
	"github.com/nsmesh/nsmesh/cmd-nsc/internal/config"
	"github.com/nsmesh/nsmesh/sdk/tools/spiffe"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// clearEnv unsets every NSM_* variable (and SPIFFE_ENDPOINT_SOCKET) for the
// test, so the machine's environment cannot leak into the expectations,
// then sets NSM_INSECURE=true: an identity is required.
func clearEnv(t *testing.T) {
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "NSM_") || k == "SPIFFE_ENDPOINT_SOCKET" {
			t.Setenv(k, "") // registers the restore
			_ = os.Unsetenv(k)
		}
	}
	t.Setenv("NSM_INSECURE", "true")
}

func TestDefaults(t *testing.T) {
	clearEnv(t)
	t.Setenv("NSM_NETWORK_SERVICES", "kernel://red")
	c, err := config.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if c.ConnectTo.String() != "unix:///var/lib/networkservicemesh/nsm.io.sock" {
		t.Errorf("connect to %s", c.ConnectTo)
	}
	c.ConnectTo = nil
	want := config.Config{
		Name:             "nsc",
		DialTimeout:      5 * time.Second,
		RequestTimeout:   15 * time.Second,
		MaxTokenLifetime: 10 * time.Minute,
		NetworkServices:  []*nsurl.URL{{Mechanism: "KERNEL", NetworkService: "red", Labels: map[string]string{}}},
		Labels:           map[string]string{},
		LogLevel:         logrus.InfoLevel,

		LivenessCheckEnabled:  true,
		LivenessCheckInterval: 200 * time.Millisecond,
		LivenessCheckTimeout:  500 * time.Millisecond,
		Identity:              spiffe.Insecure(),
	}
	if !reflect.DeepEqual(*c, want) {
		t.Errorf("got  %+v\nwant %+v", *c, want)
	}
}

func TestFromEnv(t *testing.T) {
	for _, tt := range []struct {
		name  string
		env   map[string]string
		check func(*testing.T, *config.Config)
	}{
		{"all set", map[string]string{
			"NSM_NAME": "web-1", "NSM_CONNECT_TO": "tcp://127.0.0.1:5001", "NSM_DIAL_TIMEOUT": "1s", "NSM_REQUEST_TIMEOUT": "3s",
			"NSM_MAX_TOKEN_LIFETIME": "6s", "NSM_LABELS": "app=web,tier=front", "NSM_LOG_LEVEL": "debug",
			"NSM_NETWORK_SERVICES": "kernel://red/nsm-red?color=red&zone=a, kernel://green",
		}, func(t *testing.T, c *config.Config) {
			if c.Name != "web-1" || c.ConnectTo.Host != "127.0.0.1:5001" || c.DialTimeout != time.Second ||
				c.RequestTimeout != 3*time.Second || c.MaxTokenLifetime != 6*time.Second || c.LogLevel != logrus.DebugLevel ||
				!reflect.DeepEqual(c.Labels, map[string]string{"app": "web", "tier": "front"}) {
				t.Errorf("%+v", c)
			}
			want := []*nsurl.URL{
				{Mechanism: "KERNEL", NetworkService: "red", InterfaceName: "nsm-red", Labels: map[string]string{"color": "red", "zone": "a"}},
				{Mechanism: "KERNEL", NetworkService: "green", Labels: map[string]string{}},
			}
			if !reflect.DeepEqual(c.NetworkServices, want) {
				t.Errorf("services %+v", c.NetworkServices)
			}
		}},
		{"liveness check", map[string]string{
			"NSM_NETWORK_SERVICES": "kernel://red", "NSM_LIVENESS_CHECK_ENABLED": "false",
			"NSM_LIVENESS_CHECK_INTERVAL": "50ms", "NSM_LIVENESS_CHECK_TIMEOUT": "300ms",
		}, func(t *testing.T, c *config.Config) {
			if c.LivenessCheckEnabled || c.LivenessCheckInterval != 50*time.Millisecond || c.LivenessCheckTimeout != 300*time.Millisecond {
				t.Errorf("liveness check %v every %v within %v", c.LivenessCheckEnabled, c.LivenessCheckInterval, c.LivenessCheckTimeout)
			}
		}},
		{"interdomain service", map[string]string{"NSM_NETWORK_SERVICES": "kernel://red@example.org/nsm-1"}, func(t *testing.T, c *config.Config) {
			if c.NetworkServices[0].NetworkService != "red@example.org" || c.NetworkServices[0].InterfaceName != "nsm-1" {
				t.Errorf("%+v", c.NetworkServices[0])
			}
		}},
		{"same service twice, two interfaces", map[string]string{"NSM_NETWORK_SERVICES": "kernel://red/a,kernel://red/b"}, func(t *testing.T, c *config.Config) {
			if len(c.NetworkServices) != 2 {
				t.Errorf("%+v", c.NetworkServices)
			}
		}},
		{"upper-case scheme", map[string]string{"NSM_NETWORK_SERVICES": "KERNEL://red"}, func(t *testing.T, c *config.Config) {
			if c.NetworkServices[0].Mechanism != "KERNEL" {
				t.Errorf("%+v", c.NetworkServices[0])
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			c, err := config.FromEnv()
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestFromEnvErrors(t *testing.T) {
	for _, tt := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{}, `NSM_NETWORK_SERVICES="": required`},
		{map[string]string{"NSM_NETWORK_SERVICES": " "}, "required"},
		{map[string]string{"NSM_NETWORK_SERVICES": "red"}, "no mechanism scheme"},
		{map[string]string{"NSM_NETWORK_SERVICES": "memif://red"}, "memif://red: only kernel:// is supported"},
		{map[string]string{"NSM_NETWORK_SERVICES": "kernel://red/a-name-longer-than-15"}, "NSM_NETWORK_SERVICES"},
		{map[string]string{"NSM_NETWORK_SERVICES": "kernel://red/nsm,kernel://green/nsm"}, `interface name "nsm" is used twice`},
		{map[string]string{"NSM_NETWORK_SERVICES": "kernel://red,"}, "empty network service URL"},
		{map[string]string{"NSM_NETWORK_SERVICES": "kernel://red", "NSM_NAME": ""}, `NSM_NAME="": must be non-empty`},
		{map[string]string{"NSM_NETWORK_SERVICES": "kernel://red", "NSM_CONNECT_TO": "/var/lib/nsm.sock"}, "scheme must be unix or tcp"},
		{map[string]string{"NSM_NETWORK_SERVICES": "kernel://red", "NSM_DIAL_TIMEOUT": "0s"}, `NSM_DIAL_TIMEOUT="0s": must be positive`},
		{map[string]string{"NSM_NETWORK_SERVICES": "kernel://red", "NSM_REQUEST_TIMEOUT": "-1s"}, "NSM_REQUEST_TIMEOUT"},
		{map[string]string{"NSM_NETWORK_SERVICES": "kernel://red", "NSM_REQUEST_TIMEOUT": "soon"}, `NSM_REQUEST_TIMEOUT="soon"`},
		{map[string]string{"NSM_NETWORK_SERVICES": "kernel://red", "NSM_MAX_TOKEN_LIFETIME": "0s"}, "NSM_MAX_TOKEN_LIFETIME"},
		{map[string]string{"NSM_NETWORK_SERVICES": "kernel://red", "NSM_MAX_TOKEN_LIFETIME": "20s"}, `NSM_MAX_TOKEN_LIFETIME="20s": must be at least twice NSM_REQUEST_TIMEOUT (15s)`},
		{map[string]string{"NSM_NETWORK_SERVICES": "kernel://red", "NSM_LABELS": "app:web"}, "NSM_LABELS"},
		{map[string]string{"NSM_NETWORK_SERVICES": "kernel://red", "NSM_LOG_LEVEL": "chatty"}, "want one of"},
		{map[string]string{"NSM_NETWORK_SERVICES": "kernel://red", "NSM_LIVENESS_CHECK_ENABLED": "maybe"}, `NSM_LIVENESS_CHECK_ENABLED="maybe"`},
		{map[string]string{"NSM_NETWORK_SERVICES": "kernel://red", "NSM_LIVENESS_CHECK_INTERVAL": "0s"}, `NSM_LIVENESS_CHECK_INTERVAL="0s": must be positive`},
		{map[string]string{"NSM_NETWORK_SERVICES": "kernel://red", "NSM_LIVENESS_CHECK_TIMEOUT": "-1s"}, "NSM_LIVENESS_CHECK_TIMEOUT"},
		{map[string]string{"NSM_NETWORK_SERVICES": "kernel://red", "NSM_INSECURE": ""}, "spiffe: no identity: set SPIFFE_ENDPOINT_SOCKET"},
		{map[string]string{"NSM_NETWORK_SERVICES": "kernel://red", "SPIFFE_ENDPOINT_SOCKET": "unix:///run/agent.sock"}, "SPIFFE_ENDPOINT_SOCKET and NSM_INSECURE=true are set"},
	} {
		t.Run(tt.want, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			_, err := config.FromEnv()
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, config.ErrConfig) {
				t.Fatalf("error %v, want ErrConfig containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

func TestUsageListsEveryVariable(t *testing.T) {
	var b bytes.Buffer
	if err := config.Usage(&b); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"NSM_NAME", "NSM_CONNECT_TO", "NSM_DIAL_TIMEOUT", "NSM_REQUEST_TIMEOUT", "NSM_MAX_TOKEN_LIFETIME",
		"NSM_NETWORK_SERVICES", "NSM_LABELS", "NSM_LOG_LEVEL", "NSM_LIVENESS_CHECK_ENABLED", "NSM_LIVENESS_CHECK_INTERVAL", "NSM_LIVENESS_CHECK_TIMEOUT",
		"SPIFFE_ENDPOINT_SOCKET", "NSM_SVID_DIR", "NSM_INSECURE"} {
		if !strings.Contains(b.String(), k) {
			t.Errorf("usage lacks %s:\n%s", k, b.String())
		}
	}
}
