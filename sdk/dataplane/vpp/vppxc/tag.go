// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package vppxc

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

const (
	tagPrefix = "nsm:"
	// maxTagLen is what sw_interface_tag_add_del's string[64] holds with
	// its terminating NUL.
	maxTagLen = 63
	// MaxOwnerLen is the longest owner a tag holds next to a hashed
	// connection id.
	MaxOwnerLen = 30
	// hashLen is the length of the identity hash at the end of a tag.
	hashLen = 8
	// tagOverhead is the tag length without owner and connection key:
	// "nsm:" ":" ":" role kind ":" hash.
	tagOverhead = len(tagPrefix) + 1 + 1 + 2 + 1 + hashLen
)

// role says which end of a connection an interface is.
type role byte

const (
	// roleUp is the upstream end: towards the client.
	roleUp role = 'u'
	// roleDown is the downstream end: towards the endpoint.
	roleDown role = 'd'
)

// kind is what an interface is, which decides how it is deleted.
type kind byte

const (
	kindTap       kind = 't'
	kindVxlan     kind = 'x'
	kindWireguard kind = 'w'
)

func (k kind) String() string {
	switch k {
	case kindTap:
		return "tap"
	case kindVxlan:
		return "vxlan"
	case kindWireguard:
		return "wireguard"
	}
	return fmt.Sprintf("kind(%q)", byte(k))
}

// tag is what an interface's VPP tag says: "nsm:<owner>:<conn>:<role><kind>:<hash>".
// conn is the connection id when it fits and is plain, else "#" and a hash of
// it; hash is a hash of everything that was fixed when the interface was
// created (see identity), so that an interface matches a plan only if it
// was made for exactly that plan.
type tag struct {
	owner string
	conn  string
	role  role
	kind  kind
	hash  string
}

func (t tag) String() string {
	return tagPrefix + t.owner + ":" + t.conn + ":" + string([]byte{byte(t.role), byte(t.kind)}) + ":" + t.hash
}

// connPrefix is the beginning shared by the tags of all interfaces of one
// connection.
func connPrefix(owner, connKey string) string { return tagPrefix + owner + ":" + connKey + ":" }

// connKey is how a connection id appears in tags of owner.
func connKey(owner, id string) string {
	if len(owner)+len(id)+tagOverhead <= maxTagLen && plain(id) {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return "#" + hex.EncodeToString(sum[:])[:15]
}

func identityHash(identity string) string {
	sum := sha256.Sum256([]byte(identity))
	return hex.EncodeToString(sum[:])[:hashLen]
}

// plain reports whether s is non-empty printable ASCII without ':' and '#'.
func plain(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c > '~' || c == ':' || c == '#' {
			return false
		}
	}
	return true
}

func validateOwner(owner string) error {
	switch {
	case owner == "":
		return fmt.Errorf("vppxc: empty owner")
	case len(owner) > MaxOwnerLen:
		return fmt.Errorf("vppxc: owner %q is longer than %d characters (it must fit in VPP interface tags)", owner, MaxOwnerLen)
	case !plain(owner):
		return fmt.Errorf("vppxc: owner %q must be printable ASCII without spaces, ':' or '#'", owner)
	}
	return nil
}

// parseTag reads a tag written by this package; ok is false for any other.
func parseTag(s string) (t tag, ok bool) {
	rest, found := strings.CutPrefix(s, tagPrefix)
	if !found {
		return tag{}, false
	}
	parts := strings.Split(rest, ":")
	if len(parts) != 4 || len(parts[2]) != 2 || len(parts[3]) != hashLen || parts[0] == "" || parts[1] == "" {
		return tag{}, false
	}
	t = tag{owner: parts[0], conn: parts[1], role: role(parts[2][0]), kind: kind(parts[2][1]), hash: parts[3]}
	if (t.role != roleUp && t.role != roleDown) || (t.kind != kindTap && t.kind != kindVxlan && t.kind != kindWireguard) {
		return tag{}, false
	}
	return t, true
}
