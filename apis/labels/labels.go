// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package labels parses the label lists that the commands take from the
// environment: "k=v,k2=v2" (NSM_LABELS of a client, the key/value form of
// most NSM_* maps) and "k:v,k2:v2" (NSM_LABELS of an endpoint, envconfig's map
// form).
//
// Items are separated by ',' and split at the first separator, so values may
// contain the separator but never ','. Space around keys and values is
// dropped. An empty input is an empty set; an empty item, an item without a
// separator, an empty key and a repeated key are errors, because each of
// them silently changes which endpoints a request selects.
package labels

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Separators of the two forms.
const (
	Equals = '='
	Colon  = ':'
)

// Parse parses the "k=v,k2=v2" form.
func Parse(s string) (map[string]string, error) { return parse(s, Equals) }

// ParseColon parses the "k:v,k2:v2" form.
func ParseColon(s string) (map[string]string, error) { return parse(s, Colon) }

// Format renders m in the "k=v" form, keys sorted, so that Parse(Format(m))
// gives m back whenever m came from Parse.
func Format(m map[string]string) string { return format(m, Equals) }

// FormatColon renders m in the "k:v" form, keys sorted.
func FormatColon(m map[string]string) string { return format(m, Colon) }

func parse(s string, sep byte) (map[string]string, error) {
	out := make(map[string]string)
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for i, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			return nil, fmt.Errorf("labels: %q: item %d is empty", s, i+1)
		}
		k, v, found := strings.Cut(item, string(sep))
		if !found {
			return nil, fmt.Errorf("labels: %q: item %q has no %q (want key%cvalue)", s, item, sep, sep)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if k == "" {
			return nil, fmt.Errorf("labels: %q: item %q has an empty key", s, item)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("labels: %q: key %q appears more than once", s, k)
		}
		out[k] = v
	}
	return out, nil
}

func format(m map[string]string, sep byte) string {
	var b strings.Builder
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteByte(sep)
		b.WriteString(m[k])
	}
	return b.String()
}

// Map is a label set in the "k=v" form that envconfig (or any decoder using
// a Decode(string) error method) can fill from the environment.
type Map map[string]string

// Decode parses s into m, replacing its contents.
func (m *Map) Decode(s string) error {
	parsed, err := Parse(s)
	if err != nil {
		return err
	}
	*m = parsed
	return nil
}

// String renders m in the "k=v" form.
func (m Map) String() string { return Format(m) }

// ColonMap is a label set in the "k:v" form.
type ColonMap map[string]string

// Decode parses s into m, replacing its contents.
func (m *ColonMap) Decode(s string) error {
	parsed, err := ParseColon(s)
	if err != nil {
		return err
	}
	*m = parsed
	return nil
}

// String renders m in the "k:v" form.
func (m ColonMap) String() string { return FormatColon(m) }
