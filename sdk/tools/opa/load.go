// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package opa

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// BuiltinPrefix starts the masks of upstream's built-in policy sets, which
// the authorize elements implement natively.
const BuiltinPrefix = "etc/nsm/opa/"

// Files returns the .rego files the masks select, sorted and without
// duplicates (see the package documentation for the forms of a mask).
func Files(masks []string) ([]string, error) {
	var out []string
	for _, m := range masks {
		m = strings.TrimSpace(m)
		if m == "" {
			continue
		}
		files, err := match(m)
		if err != nil {
			return nil, err
		}
		if len(files) == 0 {
			if strings.HasPrefix(strings.TrimPrefix(m, "/"), BuiltinPrefix) {
				continue
			}
			return nil, fmt.Errorf("opa: %q matches no .rego file", m)
		}
		out = append(out, files...)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func match(mask string) ([]string, error) {
	if fi, err := os.Stat(mask); err == nil {
		if !fi.IsDir() {
			return []string{mask}, nil
		}
		return filepath.Glob(filepath.Join(mask, "*.rego"))
	}
	files, globErr := filepath.Glob(mask)
	if globErr == nil && len(files) > 0 {
		return regoFiles(files), nil
	}
	// A directory and a regular expression for the file names in it.
	dir, expr := filepath.Split(mask)
	re, err := regexp.Compile("^(?:" + expr + ")$")
	if err != nil {
		if globErr == nil {
			return nil, nil // a glob that matches nothing
		}
		return nil, fmt.Errorf("opa: %q is no file, glob or directory/regexp mask: %w", mask, err)
	}
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil //nolint:nilerr // a missing directory matches nothing
	}
	files = nil
	for _, e := range entries {
		if !e.IsDir() && re.MatchString(e.Name()) {
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	return regoFiles(files), nil
}

func regoFiles(files []string) []string {
	return slices.DeleteFunc(files, func(f string) bool { return !strings.HasSuffix(f, ".rego") })
}

// Load opens and prepares every policy file the masks select.
func Load(ctx context.Context, masks []string, opts ...Option) ([]*Policy, error) {
	files, err := Files(masks)
	if err != nil {
		return nil, err
	}
	var out []*Policy
	for _, f := range files {
		p, err := Open(ctx, f, opts...)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// SplitMasks splits the value of an NSM_*_POLICIES variable at commas.
func SplitMasks(value string) []string {
	var out []string
	for _, m := range strings.Split(value, ",") {
		if m = strings.TrimSpace(m); m != "" {
			out = append(out, m)
		}
	}
	return out
}

// LoadEnv loads the policies of the NSM_*_POLICIES variable called variable
// with the given value; errors start with the variable's name, for the
// one-line configuration errors of the binaries.
func LoadEnv(ctx context.Context, variable, value string) ([]*Policy, error) {
	ps, err := Load(ctx, SplitMasks(value))
	if err != nil {
		return nil, fmt.Errorf("%s: %s", variable, strings.TrimPrefix(err.Error(), "opa: "))
	}
	return ps, nil
}
