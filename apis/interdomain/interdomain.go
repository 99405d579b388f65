// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package interdomain splits and joins interdomain names: "ns@domain" names
// the network service (or endpoint) "ns" in the domain "domain"; a name
// without "@" is local. Upstream splits at the first "@", and so do Target
// and Domain; Parse is the strict form for user input.
package interdomain

import (
	"errors"
	"fmt"
	"strings"
)

// Separator joins a target and its domain.
const Separator = "@"

// Name is a parsed interdomain name. Domain is empty for a local name.
type Name struct {
	Target string
	Domain string
}

// Parse splits name into target and domain and rejects the forms that can
// only be mistakes: an empty name, an empty target or domain around "@", and
// more than one "@".
func Parse(name string) (Name, error) {
	if name == "" {
		return Name{}, errors.New("interdomain: empty name")
	}
	target, domain, found := strings.Cut(name, Separator)
	switch {
	case !found:
		return Name{Target: name}, nil
	case target == "":
		return Name{}, fmt.Errorf("interdomain: %q has nothing before %q", name, Separator)
	case domain == "":
		return Name{}, fmt.Errorf("interdomain: %q has no domain after %q", name, Separator)
	case strings.Contains(domain, Separator):
		return Name{}, fmt.Errorf("interdomain: %q has more than one %q", name, Separator)
	}
	return Name{Target: target, Domain: domain}, nil
}

// String joins the name back; a local name has no separator.
func (n Name) String() string {
	if n.Domain == "" {
		return n.Target
	}
	return n.Target + Separator + n.Domain
}

// IsRemote reports whether the name points into another domain.
func (n Name) IsRemote() bool { return n.Domain != "" }

// Is reports whether name has a domain part.
func Is(name string) bool { return strings.Contains(name, Separator) }

// Join returns target@domain, or target alone when domain is empty.
func Join(target, domain string) string {
	return Name{Target: target, Domain: domain}.String()
}

// Target returns the part before the first "@" (all of name if none).
func Target(name string) string {
	target, _, _ := strings.Cut(name, Separator)
	return target
}

// Domain returns the part after the first "@", empty if none.
func Domain(name string) string {
	_, domain, _ := strings.Cut(name, Separator)
	return domain
}
