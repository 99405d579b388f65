// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package config reads the client's settings from NSM_* environment
// variables (upstream cmd-nsc's names and defaults) and checks them, so that
// a mistake stops the process at start with one clear line.
package config

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/kelseyhightower/envconfig"
	"github.com/sirupsen/logrus"

	"github.com/nsmesh/nsmesh/apis/labels"
	kernelmech "github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/kernel"
	"github.com/nsmesh/nsmesh/apis/nsurl"
	"github.com/nsmesh/nsmesh/sdk/tools/grpcutils"
	"github.com/nsmesh/nsmesh/sdk/tools/spiffe"
)

// Prefix is the environment prefix of every variable.
const Prefix = "nsm"

// env is the raw environment, as envconfig decodes it.
type env struct {
	Name             string        `default:"nsc" desc:"client name: path segment; connection ids are <name>-<i>"`
	ConnectTo        string        `default:"unix:///var/lib/networkservicemesh/nsm.io.sock" split_words:"true" desc:"URL of the local nsmgr (unix:// to pass the network namespace)"`
	DialTimeout      time.Duration `default:"5s" split_words:"true" desc:"timeout for dialing the nsmgr"`
	RequestTimeout   time.Duration `default:"15s" split_words:"true" desc:"timeout of each Request attempt (and refresh)"`
	MaxTokenLifetime time.Duration `default:"10m" split_words:"true" desc:"lifetime of the tokens the client signs; connections are refreshed within it"`
	NetworkServices  string        `split_words:"true" desc:"required: comma-separated kernel://service[/ifname][?label=value&...] URLs, one interface each"`
	Labels           labels.Map    `desc:"labels k=v,... added to every request (a URL's own labels win)"`
	LogLevel         string        `default:"INFO" split_words:"true" desc:"TRACE, DEBUG, INFO, WARN, ERROR; SIGUSR1 switches to TRACE, SIGUSR2 back"`

	LivenessCheckEnabled  bool          `default:"true" split_words:"true" desc:"ping each connection's endpoint over its interface; a dead data plane makes heal pick another path"`
	LivenessCheckInterval time.Duration `default:"200ms" split_words:"true" desc:"time between two liveness checks of a connection"`
	LivenessCheckTimeout  time.Duration `default:"500ms" split_words:"true" desc:"time a liveness check waits for the replies"`
}

// Config is the checked configuration.
type Config struct {
	Name             string
	ConnectTo        *url.URL
	DialTimeout      time.Duration
	RequestTimeout   time.Duration
	MaxTokenLifetime time.Duration
	// NetworkServices are the services to join, in order: connection i is
	// <Name>-<i>.
	NetworkServices []*nsurl.URL
	Labels          map[string]string
	LogLevel        logrus.Level
	// LivenessCheckEnabled turns the data plane check of heal on; the
	// interval and timeout are its period and its bound.
	LivenessCheckEnabled  bool
	LivenessCheckInterval time.Duration
	LivenessCheckTimeout  time.Duration
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
			return nil, fmt.Errorf("%w: %s=%q: %v", ErrConfig, pe.KeyName, pe.Value, pe.Err)
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

func (e env) check() (*Config, error) {
	bad := func(key, value, why string, args ...any) error {
		return fmt.Errorf("%w: NSM_%s=%q: %s", ErrConfig, key, value, fmt.Sprintf(why, args...))
	}
	c := &Config{
		Name:             e.Name,
		DialTimeout:      e.DialTimeout,
		RequestTimeout:   e.RequestTimeout,
		MaxTokenLifetime: e.MaxTokenLifetime,
		Labels:           map[string]string(e.Labels),

		LivenessCheckEnabled:  e.LivenessCheckEnabled,
		LivenessCheckInterval: e.LivenessCheckInterval,
		LivenessCheckTimeout:  e.LivenessCheckTimeout,
	}
	if c.Labels == nil {
		c.Labels = map[string]string{}
	}
	if e.Name == "" || strings.ContainsFunc(e.Name, unicode.IsSpace) {
		return nil, bad("NAME", e.Name, "must be non-empty, without spaces")
	}
	var err error
	if c.ConnectTo, err = grpcutils.ParseURL(e.ConnectTo); err != nil {
		return nil, bad("CONNECT_TO", e.ConnectTo, "%s", strings.TrimPrefix(err.Error(), "grpcutils: "))
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		{"DIAL_TIMEOUT", e.DialTimeout}, {"REQUEST_TIMEOUT", e.RequestTimeout}, {"MAX_TOKEN_LIFETIME", e.MaxTokenLifetime},
		{"LIVENESS_CHECK_INTERVAL", e.LivenessCheckInterval}, {"LIVENESS_CHECK_TIMEOUT", e.LivenessCheckTimeout},
	} {
		if d.v <= 0 {
			return nil, bad(d.key, d.v.String(), "must be positive")
		}
	}
	// Every hop closes a connection one request timeout before the
	// client's token expires, and the client refreshes at a fifth of the
	// lifetime: with less than twice the timeout a refresh can come too late.
	if e.MaxTokenLifetime < 2*e.RequestTimeout {
		return nil, bad("MAX_TOKEN_LIFETIME", e.MaxTokenLifetime.String(),
			"must be at least twice NSM_REQUEST_TIMEOUT (%s): the mesh closes a connection one request timeout before its token expires", e.RequestTimeout)
	}
	if c.NetworkServices, err = parseServices(e.NetworkServices); err != nil {
		return nil, bad("NETWORK_SERVICES", e.NetworkServices, "%v", err)
	}
	if c.LogLevel, err = logrus.ParseLevel(e.LogLevel); err != nil {
		return nil, bad("LOG_LEVEL", e.LogLevel, "want one of TRACE, DEBUG, INFO, WARN, ERROR")
	}
	return c, nil
}

// parseServices parses the URLs and checks what this client can do with
// them: kernel interfaces, each name at most once.
func parseServices(s string) ([]*nsurl.URL, error) {
	urls, err := nsurl.ParseList(s)
	if err != nil {
		return nil, errors.New(strings.TrimPrefix(err.Error(), "nsurl: "))
	}
	if len(urls) == 0 {
		return nil, errors.New("required: at least one network service URL such as kernel://my-service")
	}
	names := make(map[string]bool)
	for _, u := range urls {
		if u.Mechanism != kernelmech.MECHANISM {
			return nil, fmt.Errorf("%s: only kernel:// is supported", u)
		}
		if u.InterfaceName == "" {
			continue
		}
		if names[u.InterfaceName] {
			return nil, fmt.Errorf("interface name %q is used twice", u.InterfaceName)
		}
		names[u.InterfaceName] = true
	}
	return urls, nil
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
