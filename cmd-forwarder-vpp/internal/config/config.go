// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package config reads the VPP forwarder's settings from NSM_* environment
// variables (upstream cmd-forwarder-vpp's names and defaults where they
// apply) and checks them, so that a mistake stops the process at start with
// one clear line. Values this forwarder does not implement yet
// (NSM_VPP_INIT=AF_XDP) are refused here rather than ignored.
package config

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kelseyhightower/envconfig"
	"github.com/sirupsen/logrus"

	"github.com/nsmesh/nsmesh/apis/labels"
	"github.com/nsmesh/nsmesh/sdk/dataplane/vpp/vppxc"
	"github.com/nsmesh/nsmesh/sdk/networkservice/mechanisms/wireguard"
	"github.com/nsmesh/nsmesh/sdk/tools/command"
	"github.com/nsmesh/nsmesh/sdk/tools/grpcutils"
	"github.com/nsmesh/nsmesh/sdk/tools/spiffe"
)

// NSM_VPP_INIT values implemented.
const (
	// InitNone leaves VPP's uplink as whoever runs VPP configured it.
	InitNone = "NONE"
	// InitAFPacket attaches VPP to the node's uplink with an af_packet
	// interface at start (sdk/dataplane/vpp/vppinit).
	InitAFPacket = "AF_PACKET"
)

// env is the raw environment, as envconfig decodes it.
type env struct {
	Name             string          `default:"forwarder" desc:"forwarder name: path segment, registration name, owner in the tags of its VPP interfaces"`
	ListenOn         string          `default:"unix:///var/lib/networkservicemesh/forwarder.sock" split_words:"true" desc:"unix:// socket the nsmgr reaches the forwarder on (fd passing needs a unix socket)"`
	ConnectTo        string          `default:"unix:///var/lib/networkservicemesh/nsm.io.sock" split_words:"true" desc:"URL of the local nsmgr (unix:// or tcp://)"`
	TunnelIP         string          `split_words:"true" desc:"address VPP terminates WireGuard and VXLAN tunnels on; with NSM_VPP_INIT=AF_PACKET an address of the uplink (empty: that of the default-route link); with NONE an address VPP owns (empty: local connections only)"`
	VxlanPort        uint16          `default:"4789" split_words:"true" desc:"UDP port of VXLAN tunnels (both ends use the same port)"`
	WireguardPorts   string          `default:"51820-52819" split_words:"true" desc:"UDP ports of WireGuard tunnels, first-last (each remote connection takes one on each node); empty: no WireGuard, remote connections use VXLAN"`
	VxlanFallback    bool            `default:"false" split_words:"true" desc:"offer VXLAN after WireGuard for IP payload, so that a peer forwarder without WireGuard still connects, unencrypted"`
	Labels           labels.ColonMap `default:"p2p:true" desc:"forwarder labels k:v,... (nsmgr picks forwarders by them)"`
	MaxTokenLifetime time.Duration   `default:"10m" split_words:"true" desc:"lifetime of the tokens the forwarder signs"`
	DialTimeout      time.Duration   `default:"750ms" split_words:"true" desc:"timeout for dialing the nsmgr, endpoints and remote nsmgrs"`
	LogLevel         string          `default:"INFO" split_words:"true" desc:"TRACE, DEBUG, INFO, WARN, ERROR; SIGUSR1 switches to TRACE, SIGUSR2 back"`
	AdoptionGrace    string          `split_words:"true" desc:"how long VPP interfaces of an earlier run wait to be adopted before unclaimed ones are deleted; empty: NSM_MAX_TOKEN_LIFETIME; 0s: delete at start"`
	PprofEnabled     bool            `default:"false" split_words:"true" desc:"serve net/http/pprof on NSM_PPROF_LISTEN_ON"`
	PprofListenOn    string          `default:"localhost:6060" split_words:"true" desc:"host:port of the pprof server"`

	VPPAPISocket           string        `default:"/var/run/vpp/external/vpp-api.sock" envconfig:"VPP_API_SOCKET" desc:"API socket of an external VPP: attached to when the file exists at start; otherwise a local VPP is started"`
	VPPInit                string        `default:"NONE" envconfig:"VPP_INIT" desc:"how VPP's uplink is set up: NONE (left as it is) or AF_PACKET (VPP attached to the node's uplink at start); AF_XDP is refused"`
	VPPMinOperationTimeout time.Duration `default:"2s" envconfig:"VPP_MIN_OPERATION_TIMEOUT" desc:"every VPP API call gets at least this long, even when its caller's deadline is nearer"`
	VPPBinary              string        `default:"vpp" envconfig:"VPP_BINARY" desc:"VPP executable (a name is looked up in PATH) started when there is no external VPP"`
	VPPRootDir             string        `default:"/" envconfig:"VPP_ROOT_DIR" desc:"root of a local VPP's files: etc/vpp/helper/vpp.conf (written when missing), var/run/vpp/{api,cli,stats}.sock, var/log/vpp/vpp.log"`
}

// Config is the checked configuration.
type Config struct {
	Name      string
	ListenOn  *url.URL
	ConnectTo *url.URL
	// TunnelIP is nil when NSM_TUNNEL_IP is empty: no remote connections.
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
	// PprofListenOn is where net/http/pprof is served; empty unless
	// NSM_PPROF_ENABLED.
	PprofListenOn string
	VPP           VPP
	// Identity is where the SVID comes from (SPIFFE_ENDPOINT_SOCKET,
	// NSM_SVID_DIR or NSM_INSECURE=true; one is required).
	Identity spiffe.Config
}

// VPP says how the forwarder reaches VPP.
type VPP struct {
	// APISocket is the external VPP's API socket (absolute path).
	APISocket string
	// Init is InitNone or InitAFPacket.
	Init                string
	MinOperationTimeout time.Duration
	// Binary is the VPP executable for a local VPP, as given (a bare name is
	// looked up in PATH only when it is needed).
	Binary string
	// RootDir is the absolute root of a local VPP's files.
	RootDir string
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
		VPP: VPP{
			APISocket:           e.VPPAPISocket,
			MinOperationTimeout: e.VPPMinOperationTimeout,
			Binary:              e.VPPBinary,
			RootDir:             e.VPPRootDir,
		},
	}
	// The name is the owner in the tags of the forwarder's VPP interfaces,
	// which hold 64 bytes.
	if !ownerName(e.Name) {
		return nil, bad("NAME", e.Name, "want 1-%d printable ASCII characters without spaces, ':' or '#' (it is the owner in the tags of the forwarder's VPP interfaces)", vppxc.MaxOwnerLen)
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
	if c.LogLevel, err = command.ParseLevel(e.LogLevel); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	if e.PprofEnabled {
		if err := command.CheckPprofListenOn(e.PprofListenOn); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrConfig, err)
		}
		c.PprofListenOn = e.PprofListenOn
	}
	if err := e.checkVPP(&c.VPP, bad); err != nil {
		return nil, err
	}
	return c, nil
}

func (e env) checkVPP(v *VPP, bad func(key, value, why string, args ...any) error) error {
	switch mode := strings.ToUpper(strings.TrimSpace(e.VPPInit)); mode {
	case InitNone, InitAFPacket:
		v.Init = mode
	case "AF_XDP":
		// Upstream attaches VPP to the node's uplink with this; pretending
		// to would leave tunnels without an underlay.
		return bad("VPP_INIT", e.VPPInit, "AF_XDP is not implemented yet; use AF_PACKET, or NONE and give VPP its uplink yourself (NSM_TUNNEL_IP is then an address VPP owns)")
	default:
		return bad("VPP_INIT", e.VPPInit, "want NONE or AF_PACKET (AF_XDP is not implemented yet)")
	}
	if !filepath.IsAbs(e.VPPAPISocket) {
		return bad("VPP_API_SOCKET", e.VPPAPISocket, "want an absolute path")
	}
	if e.VPPMinOperationTimeout <= 0 {
		return bad("VPP_MIN_OPERATION_TIMEOUT", e.VPPMinOperationTimeout.String(), "must be positive")
	}
	if strings.TrimSpace(e.VPPBinary) == "" {
		return bad("VPP_BINARY", e.VPPBinary, "must name the vpp executable")
	}
	if !filepath.IsAbs(e.VPPRootDir) {
		return bad("VPP_ROOT_DIR", e.VPPRootDir, "want an absolute path")
	}
	v.RootDir = filepath.Clean(e.VPPRootDir)
	return nil
}

// ownerName reports whether name can be vppxc's owner.
func ownerName(name string) bool {
	if name == "" || len(name) > vppxc.MaxOwnerLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c > '~' || c == ':' || c == '#' {
			return false
		}
	}
	return true
}

// Variable is one setting as Usage lists it.
type Variable struct{ Name, Default, Meaning string }

// Variables lists every setting with its default and meaning, in the order
// of Usage; the README's table is checked against it.
func Variables() ([]Variable, error) {
	var b strings.Builder
	if err := envconfig.Usagef(command.Prefix, &env{}, &b, "{{range .}}{{usage_key .}}\t{{usage_default .}}\t{{usage_description .}}\n{{end}}"); err != nil {
		return nil, err
	}
	rows := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	rows = append(rows, spiffe.UsageRows()...)
	vars := make([]Variable, 0, len(rows))
	for _, r := range rows {
		f := strings.SplitN(r, "\t", 3)
		if len(f) != 3 {
			return nil, fmt.Errorf("config: usage row %q", r)
		}
		vars = append(vars, Variable{Name: f[0], Default: f[1], Meaning: f[2]})
	}
	return vars, nil
}

// Usage writes the variables with their defaults and meaning.
func Usage(w io.Writer) error {
	vars, err := Variables()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, v := range vars {
		if _, err := fmt.Fprintf(tw, "%s\t%s\t%s\n", v.Name, v.Default, v.Meaning); err != nil {
			return err
		}
	}
	return tw.Flush()
}
