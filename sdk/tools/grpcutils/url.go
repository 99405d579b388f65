// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package grpcutils

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// ErrBadURL is wrapped by every URL error of this package.
var ErrBadURL = errors.New("grpcutils: bad URL")

// ParseURL parses and checks an NSM URL: unix:///abs/path or tcp://host:port.
func ParseURL(s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v", ErrBadURL, s, err)
	}
	switch u.Scheme {
	case "unix":
		if u.Path == "" {
			return nil, fmt.Errorf("%w %q: unix URL needs a path, e.g. unix:///var/lib/networkservicemesh/nsm.io.sock", ErrBadURL, s)
		}
	case "tcp":
		if _, _, err := net.SplitHostPort(u.Host); err != nil {
			return nil, fmt.Errorf("%w %q: tcp URL needs host:port, e.g. tcp://127.0.0.1:5001", ErrBadURL, s)
		}
	default:
		return nil, fmt.Errorf("%w %q: scheme must be unix or tcp", ErrBadURL, s)
	}
	return u, nil
}

// ParseURLs parses a comma-separated list of URLs.
func ParseURLs(s string) ([]*url.URL, error) {
	var out []*url.URL
	for _, part := range strings.Split(s, ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		u, err := ParseURL(part)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: empty list", ErrBadURL)
	}
	return out, nil
}

// Target returns the gRPC dial target for u: the whole URL for unix sockets
// (grpc understands unix://), host:port for tcp.
func Target(u *url.URL) string {
	if u.Scheme == "tcp" {
		return u.Host
	}
	return u.String()
}

// Listen opens a listener for u. A unix socket left behind by an earlier run
// is removed first and its directory created.
func Listen(ctx context.Context, u *url.URL) (net.Listener, error) {
	var lc net.ListenConfig
	switch u.Scheme {
	case "unix":
		if err := os.MkdirAll(filepath.Dir(u.Path), 0o750); err != nil {
			return nil, fmt.Errorf("grpcutils: listen %s: %w", u, err)
		}
		if err := os.Remove(u.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("grpcutils: listen %s: remove stale socket: %w", u, err)
		}
		l, err := lc.Listen(ctx, "unix", u.Path)
		if err != nil {
			return nil, fmt.Errorf("grpcutils: listen %s: %w", u, err)
		}
		return l, nil
	case "tcp":
		l, err := lc.Listen(ctx, "tcp", u.Host)
		if err != nil {
			return nil, fmt.Errorf("grpcutils: listen %s: %w", u, err)
		}
		return l, nil
	}
	return nil, fmt.Errorf("%w %q: scheme must be unix or tcp", ErrBadURL, u)
}

// ListenerURL returns the URL a listener actually serves, e.g. with the port
// the kernel chose for tcp://127.0.0.1:0.
func ListenerURL(l net.Listener) *url.URL {
	a := l.Addr()
	if a.Network() == "unix" {
		return &url.URL{Scheme: "unix", Path: a.String()}
	}
	return &url.URL{Scheme: "tcp", Host: a.String()}
}
