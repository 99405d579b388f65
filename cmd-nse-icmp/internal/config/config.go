// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package config reads the ICMP endpoint's settings from NSM_* environment
// variables (upstream cmd-nse-icmp-responder's names and defaults) and checks
// them, so that a mistake stops the process at start with one clear line.
package config

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/kelseyhightower/envconfig"
	"github.com/sirupsen/logrus"

	"github.com/nsmesh/nsmesh/apis/labels"
	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/apis/networkservice/payload"
	"github.com/nsmesh/nsmesh/sdk/networkservice/ipam/point2point"
	"github.com/nsmesh/nsmesh/sdk/tools/grpcutils"
	"github.com/nsmesh/nsmesh/sdk/tools/opa"
	"github.com/nsmesh/nsmesh/sdk/tools/spiffe"
)

// Prefix is the environment prefix of every variable.
const Prefix = "nsm"

// env is the raw environment, as envconfig decodes it.
type env struct {
	Name             string          `default:"icmp-server" desc:"endpoint name: registration name and path segment"`
	ConnectTo        string          `default:"unix:///var/lib/networkservicemesh/nsm.io.sock" split_words:"true" desc:"URL of the local nsmgr (unix:// or tcp://)"`
	ListenOn         string          `split_words:"true" desc:"unix:// socket the endpoint serves on; empty: unix://<new temporary directory>/listen.on, removed at exit"`
	MaxTokenLifetime time.Duration   `default:"10m" split_words:"true" desc:"lifetime of the tokens the endpoint signs"`
	CidrPrefix       string          `default:"169.254.0.0/16" split_words:"true" desc:"address pools, comma-separated, IPv4 and/or IPv6; each connection gets a pair per family"`
	ServiceNames     string          `default:"icmp-responder" split_words:"true" desc:"network services served, comma-separated"`
	Payload          string          `default:"ETHERNET" desc:"payload of the registered services: ETHERNET or IP"`
	Labels           labels.ColonMap `desc:"labels k:v,... registered for every service (endpoint selection matches on them)"`
	DNSConfigs       string          `envconfig:"DNS_CONFIGS" default:"[]" desc:"JSON array of DNS configs handed to clients, e.g. [{\"dns_server_ips\":[\"10.0.0.53\"],\"search_domains\":[\"svc\"]}]"`
	RegisterService  bool            `default:"true" split_words:"true" desc:"register the network services at start"`
	UnregisterItself bool            `default:"false" split_words:"true" desc:"unregister the endpoint at exit (otherwise its registration expires)"`
	DialTimeout      time.Duration   `default:"750ms" split_words:"true" desc:"timeout for dialing the nsmgr"`
	LogLevel         string          `default:"INFO" split_words:"true" desc:"TRACE, DEBUG, INFO, WARN, ERROR; SIGUSR1 switches to TRACE, SIGUSR2 back"`
	// Policies: comma-separated .rego files, directories, globs or
	// dir/regexp masks; empty runs only the native policies.
	AuthorizePolicies      string `split_words:"true" desc:"Rego policies every Request and Close must pass after the native token checks, e.g. deploy/policies/allowed_clients.rego"`
	RegistryClientPolicies string `split_words:"true" desc:"Rego policies the registry path returned to the endpoint's registrations must pass"`
}

// Config is the checked configuration.
type Config struct {
	Name      string
	ConnectTo *url.URL
	// ListenOn is nil when NSM_LISTEN_ON is empty: the application makes a
	// temporary directory for its socket.
	ListenOn         *url.URL
	MaxTokenLifetime time.Duration
	CIDRPrefixes     []netip.Prefix
	ServiceNames     []string
	Payload          string
	Labels           map[string]string
	DNSConfigs       []*networkservice.DNSConfig
	RegisterService  bool
	UnregisterItself bool
	DialTimeout      time.Duration
	LogLevel         logrus.Level
	// AuthorizePolicies (NSM_AUTHORIZE_POLICIES) run in the endpoint's
	// authorize element after the native policies.
	AuthorizePolicies []*opa.Policy
	// RegistryClientPolicies (NSM_REGISTRY_CLIENT_POLICIES) check the paths
	// the nsmgr returns to the endpoint's NS and NSE registrations.
	RegistryClientPolicies []*opa.Policy
	// Identity is where the SVID comes from (SPIFFE_ENDPOINT_SOCKET,
	// NSM_SVID_DIR or NSM_INSECURE=true; one is required).
	Identity spiffe.Config
}

// ErrConfig is wrapped by every error of FromEnv.
var ErrConfig = errors.New("config")

// FromEnv reads and checks the configuration from the environment.
func FromEnv() (*Config, error) {
	var e env
	if err := envconfig.Process(Prefix, &e); err != nil {
		var pe *envconfig.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%w: %s=%q: %v", ErrConfig, pe.KeyName, pe.Value, cause(pe.Err))
		}
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

// cause shortens strconv's "strconv.ParseBool: parsing "x": invalid syntax".
func cause(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 && strings.HasPrefix(s, "strconv.") {
		return s[i+2:]
	}
	return s
}

func (e env) check() (*Config, error) {
	bad := func(key, value, why string, args ...any) error {
		return fmt.Errorf("%w: NSM_%s=%q: %s", ErrConfig, key, value, fmt.Sprintf(why, args...))
	}
	c := &Config{
		Name:             e.Name,
		MaxTokenLifetime: e.MaxTokenLifetime,
		Labels:           map[string]string(e.Labels),
		RegisterService:  e.RegisterService,
		UnregisterItself: e.UnregisterItself,
		DialTimeout:      e.DialTimeout,
	}
	if c.Labels == nil {
		c.Labels = map[string]string{}
	}
	if e.Name == "" || strings.ContainsFunc(e.Name, unicode.IsSpace) || strings.ContainsAny(e.Name, "/") {
		return nil, bad("NAME", e.Name, "must be non-empty, without spaces or '/'")
	}
	var err error
	if c.ConnectTo, err = grpcutils.ParseURL(e.ConnectTo); err != nil {
		return nil, bad("CONNECT_TO", e.ConnectTo, "%v", trimPkg(err))
	}
	if strings.TrimSpace(e.ListenOn) != "" {
		if c.ListenOn, err = grpcutils.ParseURL(e.ListenOn); err != nil {
			return nil, bad("LISTEN_ON", e.ListenOn, "%v", trimPkg(err))
		}
		if c.ListenOn.Scheme != "unix" {
			return nil, bad("LISTEN_ON", e.ListenOn, "must be a unix:// socket: the endpoint passes its network namespace to the forwarder as a file descriptor, which only unix sockets carry")
		}
	}
	if e.MaxTokenLifetime <= 0 {
		return nil, bad("MAX_TOKEN_LIFETIME", e.MaxTokenLifetime.String(), "must be positive")
	}
	if c.CIDRPrefixes, err = parsePrefixes(e.CidrPrefix); err != nil {
		return nil, bad("CIDR_PREFIX", e.CidrPrefix, "%v", err)
	}
	if c.ServiceNames, err = parseNames(e.ServiceNames); err != nil {
		return nil, bad("SERVICE_NAMES", e.ServiceNames, "%v", err)
	}
	switch p := strings.ToUpper(strings.TrimSpace(e.Payload)); p {
	case payload.Ethernet, payload.IP:
		c.Payload = p
	default:
		return nil, bad("PAYLOAD", e.Payload, "want ETHERNET or IP")
	}
	if c.DNSConfigs, err = parseDNSConfigs(e.DNSConfigs); err != nil {
		return nil, bad("DNS_CONFIGS", e.DNSConfigs, "%v", err)
	}
	if e.DialTimeout <= 0 {
		return nil, bad("DIAL_TIMEOUT", e.DialTimeout.String(), "must be positive")
	}
	if c.LogLevel, err = logrus.ParseLevel(e.LogLevel); err != nil {
		return nil, bad("LOG_LEVEL", e.LogLevel, "want one of TRACE, DEBUG, INFO, WARN, ERROR")
	}
	if c.AuthorizePolicies, err = opa.LoadEnv(context.Background(), "NSM_AUTHORIZE_POLICIES", e.AuthorizePolicies); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	if c.RegistryClientPolicies, err = opa.LoadEnv(context.Background(), "NSM_REGISTRY_CLIENT_POLICIES", e.RegistryClientPolicies); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	return c, nil
}

func trimPkg(err error) string { return strings.TrimPrefix(err.Error(), "grpcutils: ") }

// parsePrefixes reads the pools. Upstream's "[a,b]" grouping is accepted
// and means the same as "a,b": the IPAM gives every connection one pair per
// address family, so a v4 and a v6 prefix make a dual-stack pair either way.
func parsePrefixes(s string) ([]netip.Prefix, error) {
	ps, err := point2point.ParsePrefixes(strings.NewReplacer("[", " ", "]", " ").Replace(s))
	if err != nil {
		return nil, errors.New(strings.TrimPrefix(err.Error(), "point2point: "))
	}
	// The IPAM's own checks (overlaps, prefixes too small for a pair).
	if _, err := point2point.NewServer(ps); err != nil {
		return nil, errors.New(strings.TrimPrefix(err.Error(), "point2point: "))
	}
	return ps, nil
}

func parseNames(s string) ([]string, error) {
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		name := strings.TrimSpace(item)
		switch {
		case name == "":
			return nil, errors.New("an empty service name")
		case strings.ContainsFunc(name, unicode.IsSpace):
			return nil, fmt.Errorf("service name %q contains a space", name)
		case slices.Contains(out, name):
			return nil, fmt.Errorf("service %q is listed twice", name)
		}
		out = append(out, name)
	}
	return out, nil
}

// parseDNSConfigs decodes the JSON array upstream uses (snake_case field
// names). Unknown fields are refused: a misspelt "dnsServerIps" would
// otherwise hand clients an empty config without a word.
func parseDNSConfigs(s string) ([]*networkservice.DNSConfig, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	d := json.NewDecoder(strings.NewReader(s))
	d.DisallowUnknownFields()
	var out []*networkservice.DNSConfig
	if err := d.Decode(&out); err != nil {
		return nil, fmt.Errorf("want a JSON array of {\"dns_server_ips\":[...],\"search_domains\":[...]}: %v", err)
	}
	if rest := strings.TrimSpace(s[d.InputOffset():]); rest != "" {
		return nil, fmt.Errorf("unexpected %q after the JSON array", rest)
	}
	for i, c := range out {
		if c == nil || len(c.GetDnsServerIps()) == 0 {
			return nil, fmt.Errorf("config %d has no dns_server_ips", i+1)
		}
		for _, ip := range c.GetDnsServerIps() {
			if net.ParseIP(ip) == nil {
				return nil, fmt.Errorf("config %d: %q is not an IP address", i+1, ip)
			}
		}
	}
	return out, nil
}

// Usage writes the variables with their defaults and meaning.
func Usage(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if err := envconfig.Usagef(Prefix, &env{}, tw, "{{range .}}{{usage_key .}}\t{{usage_default .}}\t{{usage_description .}}\n{{end}}"); err != nil {
		return err
	}
	if err := spiffe.WriteUsage(tw); err != nil {
		return err
	}
	return tw.Flush()
}
