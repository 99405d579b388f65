// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package nsurl parses the network service URLs a client is configured with
// (NSM_NETWORK_SERVICES of cmd-nsc):
//
//	<mechanism>://<network service>[/<interface name>][?<label>=<value>&...]
//
// for example kernel://red/nsm-1?app=web or memif://blue@example.com. The
// mechanism is the upper-cased scheme, the interface name the last path
// element, the labels the query; a user part ("svc@domain") makes the
// network service the interdomain name "svc@domain". These are upstream's
// rules; Parse adds the checks upstream leaves to the data plane, so that a
// bad URL fails at startup with a message naming it.
package nsurl

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"

	"github.com/nsmesh/nsmesh/apis/interdomain"
	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/cls"
	"github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/common"
	"github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/kernel"
)

// URL is a parsed network service URL.
type URL struct {
	// Mechanism is the mechanism type, e.g. KERNEL or MEMIF.
	Mechanism string
	// NetworkService is the requested service, "svc" or "svc@domain".
	NetworkService string
	// InterfaceName is the wanted interface name, empty to let the mesh pick.
	InterfaceName string
	// Labels are the request's labels; never nil after Parse.
	Labels map[string]string
}

// Parse parses and validates one network service URL. Surrounding space is
// ignored. Repeated labels are joined with "," as upstream does.
func Parse(raw string) (*URL, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return nil, errors.New("nsurl: empty network service URL")
	}
	u, err := url.Parse(s)
	if err != nil {
		// url.Error repeats the whole URL; keep only its reason.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, fmt.Errorf("nsurl: %q: %w", raw, err)
	}
	fail := func(format string, args ...any) (*URL, error) {
		return nil, fmt.Errorf("nsurl: %q: "+format+" (want mechanism://service[/ifname][?key=value&...])", append([]any{raw}, args...)...)
	}
	switch {
	case u.Scheme == "":
		return fail("no mechanism scheme")
	case u.Opaque != "":
		return fail("missing // after %q", u.Scheme+":")
	case u.Fragment != "" || strings.Contains(s, "#"):
		return fail("a fragment (#...) is not allowed")
	case u.Host == "":
		return fail("empty network service")
	case strings.ContainsAny(u.Host, ":[]"):
		return fail("network service %q must not contain ':' or brackets", u.Host)
	}

	ns := u.Host
	if u.User != nil {
		if _, hasPassword := u.User.Password(); hasPassword {
			return fail("a password is not allowed")
		}
		ns = interdomain.Join(u.User.Username(), u.Host)
		if _, err := interdomain.Parse(ns); err != nil {
			return fail("%v", err)
		}
	}

	ifname := u.Path[strings.LastIndexByte(u.Path, '/')+1:]
	if ifname != "" {
		if err := kernel.ValidateInterfaceName(ifname); err != nil {
			return fail("%v", err)
		}
	}

	query, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return fail("labels: %v", err)
	}
	labels := make(map[string]string, len(query))
	for k, vs := range query {
		if k == "" {
			return fail("a label has an empty key")
		}
		labels[k] = strings.Join(vs, ",")
	}

	return &URL{
		Mechanism:      strings.ToUpper(u.Scheme),
		NetworkService: ns,
		InterfaceName:  ifname,
		Labels:         labels,
	}, nil
}

// ParseList parses a comma-separated list of URLs, as NSM_NETWORK_SERVICES
// holds them. Labels inside one URL are joined with '&', so ',' only
// separates URLs.
func ParseList(s string) ([]*URL, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []*URL
	for item := range strings.SplitSeq(s, ",") {
		u, err := Parse(item)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}

// String renders the URL so that Parse(u.String()) yields u again.
func (u *URL) String() string {
	out := url.URL{Scheme: strings.ToLower(u.Mechanism), Host: u.NetworkService}
	if name, err := interdomain.Parse(u.NetworkService); err == nil && name.IsRemote() {
		out.User, out.Host = url.User(name.Target), name.Domain
	}
	if u.InterfaceName != "" {
		out.Path = "/" + u.InterfaceName
	}
	q := url.Values{}
	for _, k := range slices.Sorted(maps.Keys(u.Labels)) {
		q.Set(k, u.Labels[k])
	}
	out.RawQuery = q.Encode()
	return out.String()
}

// MechanismPreference returns the LOCAL mechanism the URL asks for, carrying
// the interface name when one was given; the client's mechanism element
// fills in the rest (e.g. the netns URL).
func (u *URL) MechanismPreference() *networkservice.Mechanism {
	m := &networkservice.Mechanism{Cls: cls.LOCAL, Type: u.Mechanism}
	if u.InterfaceName != "" {
		m.Parameters = map[string]string{common.InterfaceNameKey: u.InterfaceName}
	}
	return m
}
