// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package config reads the kernel forwarder's settings from NSM_* environment
// variables (upstream names and defaults where upstream has them) and checks
// them, so that a mistake stops the process at start with one clear line.
package config

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/kelseyhightower/envconfig"
	"github.com/sirupsen/logrus"

	"github.com/nsmesh/nsmesh/apis/labels"
	"github.com/nsmesh/nsmesh/sdk/dataplane/kernel"
	"github.com/nsmesh/nsmesh/sdk/networkservice/mechanisms/wireguard"
	"github.com/nsmesh/nsmesh/sdk/tools/command"
	"github.com/nsmesh/nsmesh/sdk/tools/grpcutils"
	"github.com/nsmesh/nsmesh/sdk/tools/spiffe"
)

// env is the raw environment, as envconfig decodes it.
type env struct {
	Name             string          `default:"forwarder" desc:"forwarder name: path segment, registration name, owner mark of its interfaces"`
	ListenOn         string          `default:"unix:///var/lib/networkservicemesh/forwarder.sock" split_words:"true" desc:"unix:// socket the nsmgr reaches the forwarder on (fd passing needs a unix socket)"`
	ConnectTo        string          `default:"unix:///var/lib/networkservicemesh/nsm.io.sock" split_words:"true" desc:"URL of the local nsmgr (unix:// or tcp://)"`
	TunnelIP         string          `split_words:"true" desc:"underlay address for WireGuard and VXLAN; empty: the address of the interface holding the default route"`
	VxlanPort        uint16          `default:"4789" split_words:"true" desc:"UDP port of VXLAN tunnels (both ends use the same port)"`
	WireguardPorts   string          `default:"51820-52819" split_words:"true" desc:"UDP ports of WireGuard tunnels, first-last (each remote connection takes one on each node); empty: no WireGuard, remote connections use VXLAN"`
	VxlanFallback    bool            `default:"false" split_words:"true" desc:"offer VXLAN after WireGuard for IP payload, so that a peer forwarder without WireGuard still connects, unencrypted"`
	Labels           labels.ColonMap `default:"p2p:true" desc:"forwarder labels k:v,... (nsmgr picks forwarders by them)"`
	MaxTokenLifetime time.Duration   `default:"10m" split_words:"true" desc:"lifetime of the tokens the forwarder signs"`
	DialTimeout      time.Duration   `default:"750ms" split_words:"true" desc:"timeout for dialing the nsmgr, endpoints and remote nsmgrs"`
	LogLevel         string          `default:"INFO" split_words:"true" desc:"TRACE, DEBUG, INFO, WARN, ERROR; SIGUSR1 switches to TRACE, SIGUSR2 back"`
	AdoptionGrace    string          `split_words:"true" desc:"how long interfaces of an earlier run wait to be adopted before unclaimed ones are deleted; empty: NSM_MAX_TOKEN_LIFETIME; 0s: delete at start"`
	StateDir         string          `default:"/var/lib/networkservicemesh/forwarder-kernel" split_words:"true" desc:"absolute directory where the workloads' namespaces are pinned (bind mounts) so that a restart prunes leftovers it cannot find through /proc; empty: nothing is pinned"`
	PprofEnabled     bool            `default:"false" split_words:"true" desc:"serve net/http/pprof on NSM_PPROF_LISTEN_ON"`
	PprofListenOn    string          `default:"localhost:6060" split_words:"true" desc:"host:port of the pprof server"`
}

// Config is the checked configuration.
type Config struct {
	Name      string
	ListenOn  *url.URL
	ConnectTo *url.URL
	// TunnelIP is nil when NSM_TUNNEL_IP is empty: the application detects it.
	TunnelIP  net.IP
	VxlanPort uint16
	// WireguardPorts is the zero range when WireGuard is disabled.
	WireguardPorts   wireguard.PortRange
	VxlanFallback    bool
	Labels           map[string]string
	MaxTokenLifetime time.Duration
	DialTimeout      time.Duration
	LogLevel         logrus.Level
	AdoptionGrace    time.Duration
	// StateDir is where the data plane pins namespaces; empty: off.
	StateDir string
	// PprofListenOn is where net/http/pprof is served; empty unless
	// NSM_PPROF_ENABLED.
	PprofListenOn string
	// Identity is where the SVID comes from (SPIFFE_ENDPOINT_SOCKET,
	// NSM_SVID_DIR or NSM_INSECURE=true; one is required).
	Identity spiffe.Config
}

// ErrConfig is wrapped by every error of FromEnv.
var ErrConfig = errors.New("config")

// FromEnv reads and checks the configuration from the environment.
func FromEnv() (*Config, error) {
	var e env
	if err := command.Process(&e); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	c, err := e.check()
	if err != nil {
		return nil, err
	}
	if c.Identity, err = spiffe.FromEnv(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	return c, nil
}

func (e env) check() (*Config, error) {
	bad := func(key, value, why string, args ...any) error {
		return fmt.Errorf("%w: NSM_%s=%q: %s", ErrConfig, key, value, fmt.Sprintf(why, args...))
	}
	c := &Config{
		Name:             e.Name,
		VxlanPort:        e.VxlanPort,
		VxlanFallback:    e.VxlanFallback,
		Labels:           map[string]string(e.Labels),
		MaxTokenLifetime: e.MaxTokenLifetime,
		DialTimeout:      e.DialTimeout,
		AdoptionGrace:    e.MaxTokenLifetime,
		StateDir:         e.StateDir,
	}
	if err := (kernel.Mark{Owner: e.Name, ConnID: "x"}).Validate(); err != nil {
		return nil, bad("NAME", e.Name, "must be non-empty, without ':' or control characters (it marks the forwarder's interfaces)")
	}
	var err error
	if c.ListenOn, err = grpcutils.ParseURL(e.ListenOn); err != nil {
		return nil, bad("LISTEN_ON", e.ListenOn, "%v", err)
	}
	if c.ListenOn.Scheme != "unix" {
		return nil, bad("LISTEN_ON", e.ListenOn, "must be a unix:// socket: the nsmgr passes workload namespaces as file descriptors, which only unix sockets carry")
	}
	if c.ConnectTo, err = grpcutils.ParseURL(e.ConnectTo); err != nil {
		return nil, bad("CONNECT_TO", e.ConnectTo, "%v", err)
	}
	if e.TunnelIP != "" {
		if c.TunnelIP = net.ParseIP(e.TunnelIP); c.TunnelIP == nil {
			return nil, bad("TUNNEL_IP", e.TunnelIP, "not an IP address")
		}
		if c.TunnelIP.IsUnspecified() || c.TunnelIP.IsMulticast() {
			return nil, bad("TUNNEL_IP", e.TunnelIP, "must be a unicast address of this node")
		}
	}
	if e.VxlanPort == 0 {
		return nil, bad("VXLAN_PORT", "0", "must be 1-65535")
	}
	if e.WireguardPorts != "" {
		if c.WireguardPorts, err = wireguard.ParsePortRange(e.WireguardPorts); err != nil {
			return nil, bad("WIREGUARD_PORTS", e.WireguardPorts, "want first-last such as 51820-52819 (or empty to disable WireGuard)")
		}
	}
	if e.MaxTokenLifetime <= 0 {
		return nil, bad("MAX_TOKEN_LIFETIME", e.MaxTokenLifetime.String(), "must be positive")
	}
	if e.DialTimeout <= 0 {
		return nil, bad("DIAL_TIMEOUT", e.DialTimeout.String(), "must be positive")
	}
	if e.AdoptionGrace != "" {
		if c.AdoptionGrace, err = time.ParseDuration(e.AdoptionGrace); err != nil || c.AdoptionGrace < 0 {
			return nil, bad("ADOPTION_GRACE", e.AdoptionGrace, "want a non-negative duration such as 1m or 0s")
		}
	}
	if e.StateDir != "" && !filepath.IsAbs(e.StateDir) {
		return nil, bad("STATE_DIR", e.StateDir, "want an absolute path (or empty to pin nothing)")
	}
	if c.LogLevel, err = command.ParseLevel(e.LogLevel); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	if e.PprofEnabled {
		if err := command.CheckPprofListenOn(e.PprofListenOn); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrConfig, err)
		}
		c.PprofListenOn = e.PprofListenOn
	}
	return c, nil
}

// Usage writes the variables with their defaults and meaning.
func Usage(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if err := envconfig.Usagef(command.Prefix, &env{}, tw, "{{range .}}{{usage_key .}}\t{{usage_default .}}\t{{usage_description .}}\n{{end}}"); err != nil {
		return err
	}
	if err := spiffe.WriteUsage(tw); err != nil {
		return err
	}
	return tw.Flush()
}
