// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package config_test

import (
	"bytes"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/cmd-nse-icmp/internal/config"
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

func prefixes(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

func TestDefaults(t *testing.T) {
	clearEnv(t)
	c, err := config.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if c.ConnectTo.String() != "unix:///var/lib/networkservicemesh/nsm.io.sock" || c.ListenOn != nil {
		t.Errorf("connect %s listen %v", c.ConnectTo, c.ListenOn)
	}
	c.ConnectTo = nil
	want := config.Config{
		Name:             "icmp-server",
		MaxTokenLifetime: 10 * time.Minute,
		CIDRPrefixes:     prefixes("169.254.0.0/16"),
		ServiceNames:     []string{"icmp-responder"},
		Payload:          "ETHERNET",
		Labels:           map[string]string{},
		RegisterService:  true,
		UnregisterItself: false,
		DialTimeout:      750 * time.Millisecond,
		LogLevel:         logrus.InfoLevel,
		Identity:         spiffe.Insecure(),
	}
	if len(c.DNSConfigs) != 0 {
		t.Errorf("dns configs %v", c.DNSConfigs)
	}
	c.DNSConfigs = nil
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
			"NSM_NAME": "nse-red", "NSM_CONNECT_TO": "tcp://127.0.0.1:5001", "NSM_LISTEN_ON": "unix:///tmp/nse.sock",
			"NSM_MAX_TOKEN_LIFETIME": "1m", "NSM_CIDR_PREFIX": "10.0.0.0/24,fd00::/64", "NSM_SERVICE_NAMES": "red, green",
			"NSM_PAYLOAD": "IP", "NSM_LABELS": "app:icmp,zone:a", "NSM_REGISTER_SERVICE": "false", "NSM_UNREGISTER_ITSELF": "true",
			"NSM_DIAL_TIMEOUT": "2s", "NSM_LOG_LEVEL": "debug",
			"NSM_DNS_CONFIGS": `[{"dns_server_ips":["10.0.0.53","fd00::53"],"search_domains":["red.svc"]}]`,
		}, func(t *testing.T, c *config.Config) {
			if c.Name != "nse-red" || c.ConnectTo.Host != "127.0.0.1:5001" || c.ListenOn.Path != "/tmp/nse.sock" ||
				c.MaxTokenLifetime != time.Minute || !reflect.DeepEqual(c.CIDRPrefixes, prefixes("10.0.0.0/24", "fd00::/64")) ||
				!reflect.DeepEqual(c.ServiceNames, []string{"red", "green"}) || c.Payload != "IP" ||
				!reflect.DeepEqual(c.Labels, map[string]string{"app": "icmp", "zone": "a"}) ||
				c.RegisterService || !c.UnregisterItself || c.DialTimeout != 2*time.Second || c.LogLevel != logrus.DebugLevel {
				t.Errorf("%+v", c)
			}
			want := &networkservice.DNSConfig{DnsServerIps: []string{"10.0.0.53", "fd00::53"}, SearchDomains: []string{"red.svc"}}
			if len(c.DNSConfigs) != 1 || !proto.Equal(c.DNSConfigs[0], want) {
				t.Errorf("dns %v", c.DNSConfigs)
			}
		}},
		{"upstream's bracketed dual-stack group", map[string]string{"NSM_CIDR_PREFIX": "[10.0.0.0/24, fd00::/64]"}, func(t *testing.T, c *config.Config) {
			if !reflect.DeepEqual(c.CIDRPrefixes, prefixes("10.0.0.0/24", "fd00::/64")) {
				t.Errorf("prefixes %v", c.CIDRPrefixes)
			}
		}},
		{"host bits are cleared", map[string]string{"NSM_CIDR_PREFIX": "10.0.0.7/24"}, func(t *testing.T, c *config.Config) {
			if !reflect.DeepEqual(c.CIDRPrefixes, prefixes("10.0.0.0/24")) {
				t.Errorf("prefixes %v", c.CIDRPrefixes)
			}
		}},
		{"lower-case payload", map[string]string{"NSM_PAYLOAD": "ethernet"}, func(t *testing.T, c *config.Config) {
			if c.Payload != "ETHERNET" {
				t.Errorf("payload %q", c.Payload)
			}
		}},
		{"empty dns configs", map[string]string{"NSM_DNS_CONFIGS": ""}, func(t *testing.T, c *config.Config) {
			if len(c.DNSConfigs) != 0 {
				t.Errorf("dns %v", c.DNSConfigs)
			}
		}},
		{"two dns configs", map[string]string{"NSM_DNS_CONFIGS": `[{"dns_server_ips":["1.1.1.1"]},{"dns_server_ips":["8.8.8.8"],"search_domains":["a","b"]}]`},
			func(t *testing.T, c *config.Config) {
				if len(c.DNSConfigs) != 2 || c.DNSConfigs[1].GetSearchDomains()[1] != "b" {
					t.Errorf("dns %v", c.DNSConfigs)
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
		key, value, want string
	}{
		{"NSM_NAME", "", `NSM_NAME="": must be non-empty`},
		{"NSM_NAME", "icmp server", "without spaces"},
		{"NSM_CONNECT_TO", "nsmgr:5001", `NSM_CONNECT_TO="nsmgr:5001"`},
		{"NSM_CONNECT_TO", "tcp://nsmgr", "host:port"},
		{"NSM_LISTEN_ON", "tcp://127.0.0.1:5003", "must be a unix:// socket"},
		{"NSM_LISTEN_ON", "unix://", "needs a path"},
		{"NSM_MAX_TOKEN_LIFETIME", "forever", `NSM_MAX_TOKEN_LIFETIME="forever"`},
		{"NSM_MAX_TOKEN_LIFETIME", "0s", "must be positive"},
		{"NSM_CIDR_PREFIX", "10.0.0.0", `NSM_CIDR_PREFIX="10.0.0.0": prefix "10.0.0.0"`},
		{"NSM_CIDR_PREFIX", "", "no prefix"},
		{"NSM_CIDR_PREFIX", "10.0.0.0/24,10.0.0.128/25", "overlap"},
		{"NSM_CIDR_PREFIX", "10.0.0.1/32", "single address"},
		{"NSM_SERVICE_NAMES", "", "empty service name"},
		{"NSM_SERVICE_NAMES", "red,,green", "empty service name"},
		{"NSM_SERVICE_NAMES", "red,red", "listed twice"},
		{"NSM_PAYLOAD", "L2", "want ETHERNET or IP"},
		{"NSM_LABELS", "app=icmp", "NSM_LABELS"},
		{"NSM_DNS_CONFIGS", `{"dns_server_ips":["1.1.1.1"]}`, "want a JSON array"},
		{"NSM_DNS_CONFIGS", `[{"dnsServerIps":["1.1.1.1"]}]`, `unknown field "dnsServerIps"`},
		{"NSM_DNS_CONFIGS", `[{"dns_server_ips":["one"]}]`, `"one" is not an IP address`},
		{"NSM_DNS_CONFIGS", `[{"search_domains":["a"]}]`, "no dns_server_ips"},
		{"NSM_DNS_CONFIGS", `[] []`, "after the JSON array"},
		{"NSM_REGISTER_SERVICE", "yes", `NSM_REGISTER_SERVICE="yes": invalid syntax`},
		{"NSM_UNREGISTER_ITSELF", "2", "NSM_UNREGISTER_ITSELF"},
		{"NSM_DIAL_TIMEOUT", "-1s", "must be positive"},
		{"NSM_LOG_LEVEL", "loud", "want one of"},
		{"NSM_AUTHORIZE_POLICIES", "/nonexistent/*.rego", `NSM_AUTHORIZE_POLICIES: "/nonexistent/*.rego" matches no .rego file`},
		{"NSM_REGISTRY_CLIENT_POLICIES", "config_test.go", "NSM_REGISTRY_CLIENT_POLICIES: config_test.go:"},
		{"NSM_INSECURE", "", "spiffe: no identity: set SPIFFE_ENDPOINT_SOCKET"},
		{"NSM_SVID_DIR", "/nonexistent", "NSM_SVID_DIR and NSM_INSECURE=true are set; set only one"},
	} {
		t.Run(tt.key+"="+tt.value, func(t *testing.T) {
			clearEnv(t)
			t.Setenv(tt.key, tt.value)
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
	for _, k := range []string{"NSM_NAME", "NSM_CONNECT_TO", "NSM_LISTEN_ON", "NSM_MAX_TOKEN_LIFETIME", "NSM_CIDR_PREFIX",
		"NSM_SERVICE_NAMES", "NSM_PAYLOAD", "NSM_LABELS", "NSM_DNS_CONFIGS", "NSM_REGISTER_SERVICE", "NSM_UNREGISTER_ITSELF",
		"NSM_DIAL_TIMEOUT", "NSM_LOG_LEVEL", "NSM_AUTHORIZE_POLICIES", "NSM_REGISTRY_CLIENT_POLICIES",
		"SPIFFE_ENDPOINT_SOCKET", "NSM_SVID_DIR", "NSM_INSECURE"} {
		if !strings.Contains(b.String(), k) {
			t.Errorf("usage lacks %s:\n%s", k, b.String())
		}
	}
}

// The shipped example policy loads from NSM_AUTHORIZE_POLICIES, with its
// data file.
func TestPolicies(t *testing.T) {
	clearEnv(t)
	example := filepath.Join("..", "..", "..", "deploy", "policies", "allowed_clients.rego")
	t.Setenv("NSM_AUTHORIZE_POLICIES", example)
	t.Setenv("NSM_REGISTRY_CLIENT_POLICIES", "etc/nsm/opa/common/.*.rego,etc/nsm/opa/registry/.*.rego,etc/nsm/opa/client/.*.rego")
	c, err := config.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if len(c.AuthorizePolicies) != 1 || c.AuthorizePolicies[0].Name() != "allowed_clients" || c.AuthorizePolicies[0].File() != example {
		t.Fatalf("authorize policies %v", c.AuthorizePolicies)
	}
	if len(c.RegistryClientPolicies) != 0 {
		t.Fatalf("upstream's built-in masks loaded %v; they are native", c.RegistryClientPolicies)
	}
}
