// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// target is where the health service is dialed.
type target struct {
	network string // "tcp" or "unix"
	address string // host:port or socket path
}

// pickURL chooses what to probe: the argument, else the first URL of the
// component's own NSM_LISTEN_ON, else the image's default.
func pickURL(arg, listenOn, def string) (string, error) {
	if arg != "" {
		return arg, nil
	}
	for _, u := range strings.Split(listenOn, ",") {
		if u = strings.TrimSpace(u); u != "" {
			return u, nil
		}
	}
	if def != "" {
		return def, nil
	}
	return "", errors.New("no URL: give one, set NSM_LISTEN_ON or pass -default")
}

// parseTarget accepts the URL forms the nsmesh binaries listen on.
func parseTarget(raw string) (target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return target{}, fmt.Errorf("bad URL %q: %w", raw, err)
	}
	switch u.Scheme {
	case "unix":
		p := u.Path
		if p == "" {
			p = u.Opaque // unix:relative.sock
		}
		if p == "" || u.Host != "" {
			return target{}, fmt.Errorf("bad URL %q: want unix:///absolute/path", raw)
		}
		return target{network: "unix", address: p}, nil
	case "tcp":
		host, port, err := net.SplitHostPort(u.Host)
		if err != nil || port == "" {
			return target{}, fmt.Errorf("bad URL %q: want tcp://host:port", raw)
		}
		// A server listening on every address answers on loopback too;
		// probing there keeps the check inside the container.
		switch host {
		case "", "0.0.0.0":
			host = "127.0.0.1"
		case "::":
			host = "::1"
		}
		return target{network: "tcp", address: net.JoinHostPort(host, port)}, nil
	default:
		return target{}, fmt.Errorf("bad URL %q: scheme must be tcp or unix", raw)
	}
}
