// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package params reads and writes typed values in Mechanism.parameters, the
// string map every mechanism wrapper is built on. Reads of absent keys give
// the zero value and no error, so callers can tell "not negotiated yet" from
// "garbage on the wire"; writes on a nil mechanism are ignored.
package params

import (
	"fmt"
	"net"
	"strconv"

	"github.com/nsmesh/nsmesh/apis/networkservice"
)

// String returns the raw value of key.
func String(m *networkservice.Mechanism, key string) string {
	return m.GetParameters()[key]
}

// SetString sets key to v; an empty v removes the key so that "unset" has a
// single representation on the wire.
func SetString(m *networkservice.Mechanism, key, v string) {
	if m == nil {
		return
	}
	if v == "" {
		delete(m.Parameters, key)
		return
	}
	if m.Parameters == nil {
		m.Parameters = make(map[string]string)
	}
	m.Parameters[key] = v
}

// Uint parses key as a decimal unsigned integer of at most bits bits.
func Uint(m *networkservice.Mechanism, key string, bits int) (uint64, error) {
	s, ok := m.GetParameters()[key]
	if !ok || s == "" {
		return 0, nil
	}
	v, err := strconv.ParseUint(s, 10, bits)
	if err != nil {
		return 0, fmt.Errorf("mechanism %s: parameter %s=%q is not a %d-bit unsigned integer", m.GetType(), key, s, bits)
	}
	return v, nil
}

// SetUint stores v in decimal.
func SetUint(m *networkservice.Mechanism, key string, v uint64) {
	SetString(m, key, strconv.FormatUint(v, 10))
}

// Bool parses key as "true" or "false" (strconv.ParseBool forms).
func Bool(m *networkservice.Mechanism, key string) (bool, error) {
	s, ok := m.GetParameters()[key]
	if !ok || s == "" {
		return false, nil
	}
	v, err := strconv.ParseBool(s)
	if err != nil {
		return false, fmt.Errorf("mechanism %s: parameter %s=%q is not a boolean", m.GetType(), key, s)
	}
	return v, nil
}

// SetBool stores "true" or "false".
func SetBool(m *networkservice.Mechanism, key string, v bool) {
	SetString(m, key, strconv.FormatBool(v))
}

// IP parses key as an IPv4 or IPv6 address; absent or malformed gives nil,
// which every caller must treat as "no address" anyway.
func IP(m *networkservice.Mechanism, key string) net.IP {
	return net.ParseIP(m.GetParameters()[key])
}

// SetIP stores ip in its canonical text form; nil removes the key.
func SetIP(m *networkservice.Mechanism, key string, ip net.IP) {
	if ip == nil {
		SetString(m, key, "")
		return
	}
	SetString(m, key, ip.String())
}
