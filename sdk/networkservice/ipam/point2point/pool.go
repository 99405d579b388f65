// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package point2point

import (
	"fmt"
	"net/netip"
	"strings"
)

// ParsePrefixes parses a list of CIDR prefixes separated by commas or
// spaces ("10.0.0.0/24, fd00::/64"); host bits are cleared.
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
	out := make([]netip.Prefix, 0, len(fields))
	for _, f := range fields {
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("point2point: prefix %q: %w", f, err)
		}
		out = append(out, p.Masked())
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("point2point: no prefix in %q", s)
	}
	return out, nil
}

// pool hands out the addresses of one prefix.
type pool struct {
	prefix netip.Prefix
	last   netip.Addr
	used   map[netip.Addr]struct{}
	cursor netip.Addr // where the next search starts, so allocation is O(1) on average
}

func newPool(p netip.Prefix) *pool {
	p = p.Masked()
	return &pool{prefix: p, last: lastAddr(p), used: make(map[netip.Addr]struct{}), cursor: p.Addr()}
}

// lastAddr returns the highest address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	bits := p.Bits()
	for i := range b {
		switch start := i * 8; {
		case start >= bits:
			b[i] = 0xff
		case start+8 > bits:
			b[i] |= 0xff >> (bits - start)
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// excludedBy returns the excluded prefix that contains a.
func excludedBy(a netip.Addr, excluded []netip.Prefix) (netip.Prefix, bool) {
	for _, x := range excluded {
		if x.Contains(a) {
			return x, true
		}
	}
	return netip.Prefix{}, false
}

// free reports whether a may be handed out.
func (p *pool) free(a netip.Addr, excluded []netip.Prefix) bool {
	if !p.prefix.Contains(a) {
		return false
	}
	if _, ok := p.used[a]; ok {
		return false
	}
	_, bad := excludedBy(a, excluded)
	return !bad
}

// scan returns the first free address in [from, to]. Each step skips a used
// address or a whole excluded prefix, so it costs O(used + excluded) even in
// a /64.
func (p *pool) scan(from, to netip.Addr, excluded []netip.Prefix) (netip.Addr, bool) {
	for a := from; a.IsValid() && a.Compare(to) <= 0; {
		if x, bad := excludedBy(a, excluded); bad {
			a = lastAddr(x).Next()
			continue
		}
		if _, taken := p.used[a]; !taken {
			return a, true
		}
		a = a.Next()
	}
	return netip.Addr{}, false
}

// take allocates one address, starting at the cursor and wrapping around.
func (p *pool) take(excluded []netip.Prefix) (netip.Addr, bool) {
	a, ok := p.scan(p.cursor, p.last, excluded)
	if !ok && p.cursor != p.prefix.Addr() {
		a, ok = p.scan(p.prefix.Addr(), p.cursor.Prev(), excluded)
	}
	if !ok {
		return netip.Addr{}, false
	}
	p.used[a] = struct{}{}
	p.cursor = a.Next()
	if !p.cursor.IsValid() || !p.prefix.Contains(p.cursor) {
		p.cursor = p.prefix.Addr()
	}
	return a, true
}

// takePair allocates dst and src or nothing.
func (p *pool) takePair(excluded []netip.Prefix) (dst, src netip.Addr, ok bool) {
	if dst, ok = p.take(excluded); !ok {
		return
	}
	if src, ok = p.take(excluded); !ok {
		p.release(dst)
	}
	return
}

func (p *pool) release(a netip.Addr) {
	delete(p.used, a)
}
