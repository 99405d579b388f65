// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package networkservice

import (
	"fmt"
	"net/netip"
)

// SrcIPPrefixes parses src_ip_addrs (client side addresses in CIDR form, host
// bits kept). A nil context has none.
func (x *IPContext) SrcIPPrefixes() ([]netip.Prefix, error) {
	return parsePrefixes("src_ip_addrs", x.GetSrcIpAddrs())
}

// DstIPPrefixes parses dst_ip_addrs (endpoint side addresses in CIDR form).
func (x *IPContext) DstIPPrefixes() ([]netip.Prefix, error) {
	return parsePrefixes("dst_ip_addrs", x.GetDstIpAddrs())
}

// ParsePrefix parses the route's destination prefix.
func (x *Route) ParsePrefix() (netip.Prefix, error) {
	p, err := netip.ParsePrefix(x.GetPrefix())
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("networkservice: route prefix %q: %w", x.GetPrefix(), err)
	}
	return p, nil
}

func parsePrefixes(field string, values []string) ([]netip.Prefix, error) {
	if len(values) == 0 {
		return nil, nil
	}
	out := make([]netip.Prefix, 0, len(values))
	for _, v := range values {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return nil, fmt.Errorf("networkservice: %s entry %q: %w", field, v, err)
		}
		out = append(out, p)
	}
	return out, nil
}
