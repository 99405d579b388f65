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

	"github.com/nsmesh/nsmesh/cmd-forwarder-vpp/internal/config"
	"github.com/nsmesh/nsmesh/sdk/networkservice/mechanisms/wireguard"
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
	c, err := config.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	want := config.Config{
		Name:             "forwarder",
		VxlanPort:        4789,
		WireguardPorts:   wireguard.PortRange{First: 51820, Last: 52819},
		Labels:           map[string]string{"p2p": "true"},
		MaxTokenLifetime: 10 * time.Minute,
		DialTimeout:      750 * time.Millisecond,
		LogLevel:         logrus.InfoLevel,
		AdoptionGrace:    10 * time.Minute,
		VPP: config.VPP{
			APISocket:           "/var/run/vpp/external/vpp-api.sock",
			Init:                config.InitNone,
			MinOperationTimeout: 2 * time.Second,
			Binary:              "vpp",
			RootDir:             "/",
		},
		Identity: spiffe.Insecure(),
	}
	if c.ListenOn.String() != "unix:///var/lib/networkservicemesh/forwarder.sock" ||
		c.ConnectTo.String() != "unix:///var/lib/networkservicemesh/nsm.io.sock" || c.TunnelIP != nil {
		t.Errorf("listen %s connect %s tunnel %s", c.ListenOn, c.ConnectTo, c.TunnelIP)
	}
	c.ListenOn, c.ConnectTo = nil, nil
	if !reflect.DeepEqual(*c, want) {
		t.Errorf("got %+v\nwant %+v", *c, want)
	}
}

func TestFromEnv(t *testing.T) {
	for _, tt := range []struct {
		name  string
		env   map[string]string
		check func(*testing.T, *config.Config)
	}{
		{"all set", map[string]string{
			"NSM_NAME": "fwd-node1", "NSM_LISTEN_ON": "unix:///tmp/fwd.sock", "NSM_CONNECT_TO": "tcp://127.0.0.1:5001",
			"NSM_TUNNEL_IP": "192.0.2.10", "NSM_VXLAN_PORT": "8472", "NSM_LABELS": "p2p:true,zone:a",
			"NSM_MAX_TOKEN_LIFETIME": "1m", "NSM_DIAL_TIMEOUT": "2s", "NSM_LOG_LEVEL": "debug", "NSM_ADOPTION_GRACE": "30s",
			"NSM_VPP_API_SOCKET": "/run/vpp/api.sock", "NSM_VPP_INIT": "NONE", "NSM_VPP_MIN_OPERATION_TIMEOUT": "500ms",
			"NSM_VPP_BINARY": "/usr/local/bin/vpp", "NSM_VPP_ROOT_DIR": "/var/lib/nsm-vpp/",
		}, func(t *testing.T, c *config.Config) {
			if c.Name != "fwd-node1" || c.ListenOn.Path != "/tmp/fwd.sock" || c.ConnectTo.Host != "127.0.0.1:5001" ||
				c.TunnelIP.String() != "192.0.2.10" || c.VxlanPort != 8472 ||
				!reflect.DeepEqual(c.Labels, map[string]string{"p2p": "true", "zone": "a"}) ||
				c.MaxTokenLifetime != time.Minute || c.DialTimeout != 2*time.Second ||
				c.LogLevel != logrus.DebugLevel || c.AdoptionGrace != 30*time.Second {
				t.Errorf("%+v", c)
			}
			want := config.VPP{APISocket: "/run/vpp/api.sock", Init: "NONE", MinOperationTimeout: 500 * time.Millisecond,
				Binary: "/usr/local/bin/vpp", RootDir: "/var/lib/nsm-vpp"}
			if c.VPP != want {
				t.Errorf("vpp %+v, want %+v", c.VPP, want)
			}
		}},
		{"longest name", map[string]string{"NSM_NAME": "forwarder-vpp-on-node-01234567"}, func(t *testing.T, c *config.Config) {
			if len(c.Name) != 30 {
				t.Errorf("name %q", c.Name)
			}
		}},
		{"ipv6 tunnel", map[string]string{"NSM_TUNNEL_IP": "fd00::10"}, func(t *testing.T, c *config.Config) {
			if c.TunnelIP.String() != "fd00::10" {
				t.Errorf("tunnel %s", c.TunnelIP)
			}
		}},
		{"lower-case init", map[string]string{"NSM_VPP_INIT": "none"}, func(t *testing.T, c *config.Config) {
			if c.VPP.Init != config.InitNone {
				t.Errorf("init %q", c.VPP.Init)
			}
		}},
		{"af_packet", map[string]string{"NSM_VPP_INIT": "af_packet"}, func(t *testing.T, c *config.Config) {
			if c.VPP.Init != config.InitAFPacket || c.TunnelIP != nil {
				t.Errorf("init %q, tunnel IP %v (empty: found at start)", c.VPP.Init, c.TunnelIP)
			}
		}},
		{"af_packet with a tunnel IP", map[string]string{"NSM_VPP_INIT": "AF_PACKET", "NSM_TUNNEL_IP": "192.0.2.10"}, func(t *testing.T, c *config.Config) {
			if c.VPP.Init != config.InitAFPacket || c.TunnelIP.String() != "192.0.2.10" {
				t.Errorf("init %q, tunnel IP %v", c.VPP.Init, c.TunnelIP)
			}
		}},
		{"grace follows the token lifetime", map[string]string{"NSM_MAX_TOKEN_LIFETIME": "3m"}, func(t *testing.T, c *config.Config) {
			if c.AdoptionGrace != 3*time.Minute {
				t.Errorf("grace %s", c.AdoptionGrace)
			}
		}},
		{"zero grace prunes at start", map[string]string{"NSM_ADOPTION_GRACE": "0s"}, func(t *testing.T, c *config.Config) {
			if c.AdoptionGrace != 0 {
				t.Errorf("grace %s", c.AdoptionGrace)
			}
		}},
		{"upper-case log level", map[string]string{"NSM_LOG_LEVEL": "TRACE"}, func(t *testing.T, c *config.Config) {
			if c.LogLevel != logrus.TraceLevel {
				t.Errorf("level %s", c.LogLevel)
			}
		}},
		{"pprof off by default", map[string]string{"NSM_PPROF_LISTEN_ON": "localhost:7000"}, func(t *testing.T, c *config.Config) {
			if c.PprofListenOn != "" {
				t.Errorf("pprof %q without NSM_PPROF_ENABLED", c.PprofListenOn)
			}
		}},
		{"pprof enabled", map[string]string{"NSM_PPROF_ENABLED": "true", "NSM_PPROF_LISTEN_ON": "localhost:7000"}, func(t *testing.T, c *config.Config) {
			if c.PprofListenOn != "localhost:7000" {
				t.Errorf("pprof %q", c.PprofListenOn)
			}
		}},
		{"wireguard ports", map[string]string{"NSM_WIREGUARD_PORTS": "40000-40099", "NSM_VXLAN_FALLBACK": "true"}, func(t *testing.T, c *config.Config) {
			if c.WireguardPorts != (wireguard.PortRange{First: 40000, Last: 40099}) || !c.VxlanFallback {
				t.Errorf("ports %s fallback %v", c.WireguardPorts, c.VxlanFallback)
			}
		}},
		{"wireguard disabled", map[string]string{"NSM_WIREGUARD_PORTS": ""}, func(t *testing.T, c *config.Config) {
			if c.WireguardPorts != (wireguard.PortRange{}) {
				t.Errorf("ports %s", c.WireguardPorts)
			}
		}},
		{"empty labels", map[string]string{"NSM_LABELS": ""}, func(t *testing.T, c *config.Config) {
			if len(c.Labels) != 0 {
				t.Errorf("labels %v", c.Labels)
			}
		}},
		{"svid dir", map[string]string{"NSM_INSECURE": "", "NSM_SVID_DIR": os.TempDir()}, func(t *testing.T, c *config.Config) {
			if c.Identity != (spiffe.Config{Mode: spiffe.ModeFiles, SVIDDir: os.TempDir()}) {
				t.Errorf("identity %v", c.Identity)
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
		{"NSM_NAME", "a:b", `NSM_NAME="a:b"`},
		{"NSM_NAME", "", `NSM_NAME=""`},
		{"NSM_NAME", "fwd#1", "printable ASCII characters without spaces, ':' or '#'"},
		{"NSM_NAME", "fwd 1", "want 1-30 printable ASCII"},
		{"NSM_NAME", "forwarder-vpp-on-node-0123456789", "want 1-30"},
		{"NSM_LISTEN_ON", "tcp://127.0.0.1:5003", "must be a unix:// socket"},
		{"NSM_LISTEN_ON", "/var/run/fwd.sock", "scheme must be unix or tcp"},
		{"NSM_CONNECT_TO", "http://nsmgr", `NSM_CONNECT_TO="http://nsmgr"`},
		{"NSM_CONNECT_TO", "tcp://nsmgr", "host:port"},
		{"NSM_TUNNEL_IP", "10.0.0", "not an IP address"},
		{"NSM_TUNNEL_IP", "0.0.0.0", "unicast"},
		{"NSM_TUNNEL_IP", "ff02::1", "unicast"},
		{"NSM_VXLAN_PORT", "65536", `NSM_VXLAN_PORT: bad value "65536"`},
		{"NSM_VXLAN_PORT", "0", "1-65535"},
		{"NSM_WIREGUARD_PORTS", "52819-51820", "first-last"},
		{"NSM_WIREGUARD_PORTS", "0-10", "NSM_WIREGUARD_PORTS"},
		{"NSM_VXLAN_FALLBACK", "maybe", "NSM_VXLAN_FALLBACK"},
		{"NSM_LABELS", "p2p", "NSM_LABELS"},
		{"NSM_MAX_TOKEN_LIFETIME", "ten minutes", "NSM_MAX_TOKEN_LIFETIME"},
		{"NSM_MAX_TOKEN_LIFETIME", "-1s", "must be positive"},
		{"NSM_DIAL_TIMEOUT", "0s", "must be positive"},
		{"NSM_LOG_LEVEL", "loud", `NSM_LOG_LEVEL: bad value "loud"`},
		{"NSM_ADOPTION_GRACE", "-1m", "non-negative"},
		{"NSM_ADOPTION_GRACE", "soon", "non-negative"},
		{"NSM_PPROF_ENABLED", "sure", "NSM_PPROF_ENABLED"},
		{"NSM_PPROF_LISTEN_ON", "6060", "host:port"},
		{"NSM_VPP_INIT", "AF_XDP", `NSM_VPP_INIT="AF_XDP": AF_XDP is not implemented yet; use AF_PACKET, or NONE`},
		{"NSM_VPP_INIT", "af_xdp", `NSM_VPP_INIT="af_xdp": AF_XDP is not implemented yet; use AF_PACKET, or NONE`},
		{"NSM_VPP_INIT", "DPDK", `NSM_VPP_INIT="DPDK": want NONE or AF_PACKET (AF_XDP is not implemented yet)`},
		{"NSM_VPP_INIT", "", `NSM_VPP_INIT="": want NONE or AF_PACKET`},
		{"NSM_VPP_API_SOCKET", "vpp-api.sock", `NSM_VPP_API_SOCKET="vpp-api.sock": want an absolute path`},
		{"NSM_VPP_API_SOCKET", "", "NSM_VPP_API_SOCKET"},
		{"NSM_VPP_MIN_OPERATION_TIMEOUT", "0s", "NSM_VPP_MIN_OPERATION_TIMEOUT=\"0s\": must be positive"},
		{"NSM_VPP_MIN_OPERATION_TIMEOUT", "2", `NSM_VPP_MIN_OPERATION_TIMEOUT: bad value "2"`},
		{"NSM_VPP_BINARY", " ", "NSM_VPP_BINARY"},
		{"NSM_VPP_ROOT_DIR", "vpp", `NSM_VPP_ROOT_DIR="vpp": want an absolute path`},
		{"NSM_INSECURE", "", "spiffe: no identity: set SPIFFE_ENDPOINT_SOCKET"},
		{"NSM_SVID_DIR", "/tmp", "NSM_SVID_DIR and NSM_INSECURE=true are set; set only one"},
	} {
		t.Run(tt.key+"="+tt.value, func(t *testing.T) {
			clearEnv(t)
			t.Setenv(tt.key, tt.value)
			if tt.key == "NSM_PPROF_LISTEN_ON" {
				t.Setenv("NSM_PPROF_ENABLED", "true")
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

// usageKeys are the variables of the forwarder, in the order of Usage.
var usageKeys = []string{"NSM_NAME", "NSM_LISTEN_ON", "NSM_CONNECT_TO", "NSM_TUNNEL_IP", "NSM_VXLAN_PORT", "NSM_WIREGUARD_PORTS",
	"NSM_VXLAN_FALLBACK", "NSM_LABELS", "NSM_MAX_TOKEN_LIFETIME", "NSM_DIAL_TIMEOUT", "NSM_LOG_LEVEL", "NSM_ADOPTION_GRACE", "NSM_PPROF_ENABLED",
	"NSM_PPROF_LISTEN_ON", "NSM_VPP_API_SOCKET", "NSM_VPP_INIT", "NSM_VPP_MIN_OPERATION_TIMEOUT", "NSM_VPP_BINARY",
	"NSM_VPP_ROOT_DIR", "SPIFFE_ENDPOINT_SOCKET", "NSM_SVID_DIR", "NSM_INSECURE"}

func TestUsageListsEveryVariable(t *testing.T) {
	var b bytes.Buffer
	if err := config.Usage(&b); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		got = append(got, strings.Fields(line)[0])
	}
	if !reflect.DeepEqual(got, usageKeys) {
		t.Errorf("usage lists %v\nwant %v", got, usageKeys)
	}
}
