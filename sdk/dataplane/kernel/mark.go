// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package kernel

import (
	"errors"
	"fmt"
	"strings"
)

// aliasPrefix starts the IFLA_IFALIAS of every link this package creates.
const aliasPrefix = "nsm:"

// maxAliasLen is IFALIASZ-1: the kernel stores at most 255 alias bytes.
const maxAliasLen = 255

// Mark says who created a link and for which connection. It is stored in the
// interface alias as "nsm:<owner>:<conn-id>", which survives a forwarder
// restart, so a new run can find, adopt or delete what an earlier one left.
// Owner (typically the forwarder name) keeps two forwarders on one host from
// ever touching each other's links.
type Mark struct {
	Owner  string
	ConnID string
}

// Alias returns the interface alias that carries m.
func (m Mark) Alias() string { return aliasPrefix + m.Owner + ":" + m.ConnID }

// String is the alias form, for logs.
func (m Mark) String() string { return m.Alias() }

// Validate checks that m fits in an alias and can be parsed back.
func (m Mark) Validate() error {
	switch {
	case m.Owner == "":
		return errors.New("kernel: mark: empty owner")
	case m.ConnID == "":
		return errors.New("kernel: mark: empty connection id")
	case strings.ContainsRune(m.Owner, ':'):
		return fmt.Errorf("kernel: mark: owner %q contains ':'", m.Owner)
	case len(m.Alias()) > maxAliasLen:
		return fmt.Errorf("kernel: mark: alias for %q/%q is longer than %d bytes", m.Owner, m.ConnID, maxAliasLen)
	}
	for _, s := range []string{m.Owner, m.ConnID} {
		for i := 0; i < len(s); i++ {
			if s[i] < 0x20 || s[i] == 0x7f {
				return fmt.Errorf("kernel: mark: %q contains a control character", s)
			}
		}
	}
	return nil
}

// ParseMark extracts the mark from an interface alias. ok is false for
// aliases this package did not write.
func ParseMark(alias string) (m Mark, ok bool) {
	rest, found := strings.CutPrefix(alias, aliasPrefix)
	if !found {
		return Mark{}, false
	}
	owner, conn, found := strings.Cut(rest, ":")
	if !found {
		return Mark{}, false
	}
	m = Mark{Owner: owner, ConnID: conn}
	if m.Validate() != nil {
		return Mark{}, false
	}
	return m, true
}
