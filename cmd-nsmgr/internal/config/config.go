// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package config reads the configuration of cmd-nsmgr from the upstream
// NSM_* environment variables.
package config

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/nsmesh/nsmesh/sdk/tools/command"
	"github.com/nsmesh/nsmesh/sdk/tools/grpcutils"
	"github.com/nsmesh/nsmesh/sdk/tools/opa"
	"github.com/nsmesh/nsmesh/sdk/tools/spiffe"
)

// DefaultListenOn serves local workloads on the conventional socket and
// other nodes on the conventional port.
const DefaultListenOn = "unix:///var/lib/networkservicemesh/nsm.io.sock,tcp://:5001"

type env struct {
	Name                        string        `default:"nsmgr"`
	ListenOn                    string        `default:"unix:///var/lib/networkservicemesh/nsm.io.sock,tcp://:5001" split_words:"true"`
	RegistryURL                 string        `default:"tcp://127.0.0.1:5002" envconfig:"REGISTRY_URL"`
	MaxTokenLifetime            time.Duration `default:"10m" split_words:"true"`
	DialTimeout                 time.Duration `default:"750ms" split_words:"true"`
	ForwarderNetworkServiceName string        `default:"forwarder" split_words:"true"`
	LogLevel                    string        `default:"INFO" split_words:"true"`
	PprofEnabled                bool          `default:"false" split_words:"true"`
	PprofListenOn               string        `default:"localhost:6060" split_words:"true"`
	AuthorizePolicies           string        `split_words:"true"`
	RegistryServerPolicies      string        `split_words:"true"`
	RegistryClientPolicies      string        `split_words:"true"`
}

// Config is the checked configuration.
type Config struct {
	// Name is the nsmgr's path segment name (NSM_NAME).
	Name string
	// ListenOn are the URLs served (NSM_LISTEN_ON).
	ListenOn []*url.URL
	// PublicURL is how other nodes reach this nsmgr: the first tcp URL of
	// NSM_LISTEN_ON, with an unspecified host replaced by this host's address.
	PublicURL *url.URL
	// RegistryURL is the central registry (NSM_REGISTRY_URL); nil keeps
	// registrations in memory (set NSM_REGISTRY_URL to the empty string).
	RegistryURL *url.URL
	// MaxTokenLifetime is NSM_MAX_TOKEN_LIFETIME.
	MaxTokenLifetime time.Duration
	// DialTimeout bounds dialing forwarders and the registry (NSM_DIAL_TIMEOUT).
	DialTimeout time.Duration
	// ForwarderServiceName is NSM_FORWARDER_NETWORK_SERVICE_NAME.
	ForwarderServiceName string
	// LogLevel is NSM_LOG_LEVEL.
	LogLevel logrus.Level
	// PprofListenOn is where net/http/pprof is served (NSM_PPROF_LISTEN_ON);
	// empty unless NSM_PPROF_ENABLED.
	PprofListenOn string
	// AuthorizePolicies are Rego policies (NSM_AUTHORIZE_POLICIES) every
	// Request and Close at the nsmgr must pass after the native token
	// policies.
	AuthorizePolicies []*opa.Policy
	// RegistryServerPolicies are Rego policies
	// (NSM_REGISTRY_SERVER_POLICIES) every Register and Unregister at the
	// nsmgr must pass after the native first-registrant policy.
	RegistryServerPolicies []*opa.Policy
	// RegistryClientPolicies are Rego policies
	// (NSM_REGISTRY_CLIENT_POLICIES) on the registry path the central
	// registry returns to the registrations the nsmgr forwards.
	RegistryClientPolicies []*opa.Policy
	// Identity is where the SVID comes from (SPIFFE_ENDPOINT_SOCKET,
	// NSM_SVID_DIR or NSM_INSECURE=true; one is required).
	Identity spiffe.Config
}

// Load reads and checks the environment.
func Load() (*Config, error) {
	var e env
	if err := command.Process(&e); err != nil {
		return nil, err
	}
	c, err := check(&e, hostIP)
	if err != nil {
		return nil, err
	}
	if c.Identity, err = spiffe.FromEnv(); err != nil {
		return nil, err
	}
	return c, nil
}

func check(e *env, ipOf func() (net.IP, error)) (*Config, error) {
	c := &Config{
		Name:                 strings.TrimSpace(e.Name),
		MaxTokenLifetime:     e.MaxTokenLifetime,
		DialTimeout:          e.DialTimeout,
		ForwarderServiceName: strings.TrimSpace(e.ForwarderNetworkServiceName),
	}
	if c.Name == "" {
		return nil, errors.New("NSM_NAME: must not be empty")
	}
	var err error
	if c.ListenOn, err = grpcutils.ParseURLs(e.ListenOn); err != nil {
		return nil, fmt.Errorf("NSM_LISTEN_ON: %s", strings.TrimPrefix(err.Error(), "grpcutils: "))
	}
	for _, u := range c.ListenOn {
		if u.Scheme == "tcp" {
			c.PublicURL = &url.URL{Scheme: "tcp", Host: u.Host}
			break
		}
	}
	if c.PublicURL == nil {
		return nil, fmt.Errorf("NSM_LISTEN_ON: %q has no tcp:// URL: other nodes reach the nsmgr over tcp, e.g. add tcp://:5001", e.ListenOn)
	}
	if host, port, _ := net.SplitHostPort(c.PublicURL.Host); host == "" || net.ParseIP(host).IsUnspecified() {
		ip, err := ipOf()
		if err != nil {
			return nil, fmt.Errorf("NSM_LISTEN_ON: %s listens on every address and no address of this host could be found for other nodes (%v); name the address, e.g. tcp://10.0.0.1:%s", c.PublicURL, err, port)
		}
		c.PublicURL.Host = net.JoinHostPort(ip.String(), port)
	}
	if strings.TrimSpace(e.RegistryURL) != "" {
		if c.RegistryURL, err = grpcutils.ParseURL(e.RegistryURL); err != nil {
			return nil, fmt.Errorf("NSM_REGISTRY_URL: %s", strings.TrimPrefix(err.Error(), "grpcutils: "))
		}
	}
	if c.MaxTokenLifetime <= 0 {
		return nil, fmt.Errorf("NSM_MAX_TOKEN_LIFETIME: %s: must be positive", c.MaxTokenLifetime)
	}
	if c.DialTimeout <= 0 {
		return nil, fmt.Errorf("NSM_DIAL_TIMEOUT: %s: must be positive", c.DialTimeout)
	}
	if c.ForwarderServiceName == "" {
		return nil, errors.New("NSM_FORWARDER_NETWORK_SERVICE_NAME: must not be empty")
	}
	if c.LogLevel, err = command.ParseLevel(e.LogLevel); err != nil {
		return nil, err
	}
	if e.PprofEnabled {
		if err := command.CheckPprofListenOn(e.PprofListenOn); err != nil {
			return nil, err
		}
		c.PprofListenOn = e.PprofListenOn
	}
	if c.AuthorizePolicies, err = opa.LoadEnv(context.Background(), "NSM_AUTHORIZE_POLICIES", e.AuthorizePolicies); err != nil {
		return nil, err
	}
	if c.RegistryServerPolicies, err = opa.LoadEnv(context.Background(), "NSM_REGISTRY_SERVER_POLICIES", e.RegistryServerPolicies); err != nil {
		return nil, err
	}
	if c.RegistryClientPolicies, err = opa.LoadEnv(context.Background(), "NSM_REGISTRY_CLIENT_POLICIES", e.RegistryClientPolicies); err != nil {
		return nil, err
	}
	return c, nil
}

// hostIP returns the first global unicast address of an interface that is up,
// IPv4 first.
func hostIP() (net.IP, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	var v6 net.IP
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			n, ok := a.(*net.IPNet)
			if !ok || !n.IP.IsGlobalUnicast() {
				continue
			}
			if n.IP.To4() != nil {
				return n.IP, nil
			}
			if v6 == nil {
				v6 = n.IP
			}
		}
	}
	if v6 != nil {
		return v6, nil
	}
	return nil, errors.New("no interface with a global unicast address is up")
}
