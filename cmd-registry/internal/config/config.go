// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package config reads the configuration of cmd-registry from the upstream
// NSM_* environment variables.
package config

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"
	"github.com/sirupsen/logrus"

	"github.com/nsmesh/nsmesh/sdk/tools/grpcutils"
	"github.com/nsmesh/nsmesh/sdk/tools/opa"
	"github.com/nsmesh/nsmesh/sdk/tools/spiffe"
)

// Prefix of every variable.
const Prefix = "NSM"

// env is the raw environment, as envconfig decodes it.
type env struct {
	Name             string        `default:"registry"`
	ListenOn         string        `default:"tcp://:5002" split_words:"true"`
	MaxTokenLifetime time.Duration `default:"10m" split_words:"true"`
	ExpirePeriod     time.Duration `default:"1m" split_words:"true"`
	LogLevel         string        `default:"INFO" split_words:"true"`
	ProxyRegistryURL string        `split_words:"true"`
	// RegistryServerPolicies: upstream's name and mask syntax; empty runs
	// only the native ownership policy.
	RegistryServerPolicies string `split_words:"true"`
}

// Config is the checked configuration.
type Config struct {
	// Name identifies this registry in logs (NSM_NAME).
	Name string
	// ListenOn are the URLs served (NSM_LISTEN_ON, comma-separated).
	ListenOn []*url.URL
	// MaxTokenLifetime caps the path tokens the registry signs
	// (NSM_MAX_TOKEN_LIFETIME).
	MaxTokenLifetime time.Duration
	// ExpirePeriod is how long an endpoint registration lives without a
	// refresh (NSM_EXPIRE_PERIOD).
	ExpirePeriod time.Duration
	// LogLevel is NSM_LOG_LEVEL.
	LogLevel logrus.Level
	// ProxyRegistryURL is NSM_PROXY_REGISTRY_URL, kept only to warn that
	// interdomain forwarding is not supported yet.
	ProxyRegistryURL string
	// RegistryServerPolicies are the Rego policies of
	// NSM_REGISTRY_SERVER_POLICIES (comma-separated .rego files, directories,
	// globs or dir/regexp masks), checked on every Register and Unregister
	// after the native first-registrant policy.
	RegistryServerPolicies []*opa.Policy
	// Identity is where the SVID comes from (SPIFFE_ENDPOINT_SOCKET,
	// NSM_SVID_DIR or NSM_INSECURE=true; one is required).
	Identity spiffe.Config
}

// Load reads and checks the environment.
func Load() (*Config, error) {
	var e env
	if err := envconfig.Process(Prefix, &e); err != nil {
		var pe *envconfig.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%s: bad value %q: %w", pe.KeyName, pe.Value, pe.Err)
		}
		return nil, err
	}
	c := &Config{
		Name:             strings.TrimSpace(e.Name),
		MaxTokenLifetime: e.MaxTokenLifetime,
		ExpirePeriod:     e.ExpirePeriod,
		ProxyRegistryURL: e.ProxyRegistryURL,
	}
	if c.Name == "" {
		return nil, fmt.Errorf("NSM_NAME: must not be empty")
	}
	urls, err := grpcutils.ParseURLs(e.ListenOn)
	if err != nil {
		return nil, fmt.Errorf("NSM_LISTEN_ON: %s", strings.TrimPrefix(err.Error(), "grpcutils: "))
	}
	c.ListenOn = urls
	if c.MaxTokenLifetime <= 0 {
		return nil, fmt.Errorf("NSM_MAX_TOKEN_LIFETIME: %s: must be positive", c.MaxTokenLifetime)
	}
	if c.ExpirePeriod <= 0 {
		return nil, fmt.Errorf("NSM_EXPIRE_PERIOD: %s: must be positive", c.ExpirePeriod)
	}
	if c.RegistryServerPolicies, err = opa.LoadEnv(context.Background(), "NSM_REGISTRY_SERVER_POLICIES", e.RegistryServerPolicies); err != nil {
		return nil, err
	}
	if c.LogLevel, err = logrus.ParseLevel(e.LogLevel); err != nil {
		return nil, fmt.Errorf("NSM_LOG_LEVEL: bad value %q: want one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL, PANIC", e.LogLevel)
	}
	if c.Identity, err = spiffe.FromEnv(); err != nil {
		return nil, err
	}
	return c, nil
}
