// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package config_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/nsmesh/nsmesh/cmd-forwarder-vpp/internal/config"
)

func readme(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestREADMETable checks the README's configuration table against the
// variables the binary reads: same names, same order, same defaults.
func TestREADMETable(t *testing.T) {
	vars, err := config.Variables()
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("^\\| `([A-Z_]+)` \\|([^|]*)\\|")
	var got []config.Variable
	for _, line := range strings.Split(readme(t), "\n") {
		m := row.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		def := strings.Trim(strings.TrimSpace(m[2]), "`")
		if def == "empty" {
			def = ""
		}
		got = append(got, config.Variable{Name: m[1], Default: def})
	}
	if len(got) != len(vars) {
		t.Errorf("README lists %d variables, the binary %d", len(got), len(vars))
	}
	derived := regexp.MustCompile(`^NSM_[A-Z_]+$`)
	for i := range min(len(got), len(vars)) {
		if derived.MatchString(got[i].Default) && vars[i].Default == "" && strings.Contains(vars[i].Meaning, "empty: "+got[i].Default) {
			continue // a default taken from another variable
		}
		if got[i].Name != vars[i].Name || got[i].Default != vars[i].Default {
			t.Errorf("README row %d: %s default %q; the binary: %s default %q", i, got[i].Name, got[i].Default, vars[i].Name, vars[i].Default)
		}
	}
}

// TestREADMEExample checks that the example's variables are a valid
// configuration (with a real SVID directory in place of the example's).
func TestREADMEExample(t *testing.T) {
	text := readme(t)
	_, example, ok := strings.Cut(text, "## Example\n\n```sh\n")
	if !ok {
		t.Fatal("README has no example")
	}
	example, _, _ = strings.Cut(example, "```")
	clearEnv(t)
	t.Setenv("NSM_INSECURE", "")
	set := map[string]string{}
	for _, m := range regexp.MustCompile(`\b(NSM_[A-Z_]+)=(\S+)`).FindAllStringSubmatch(example, -1) {
		set[m[1]] = m[2]
		if m[1] == "NSM_SVID_DIR" {
			m[2] = t.TempDir()
		}
		t.Setenv(m[1], m[2])
	}
	if len(set) < 4 {
		t.Fatalf("example sets only %v", set)
	}
	c, err := config.FromEnv()
	if err != nil {
		t.Fatalf("the README example is refused: %v", err)
	}
	if c.Name != set["NSM_NAME"] || c.TunnelIP.String() != set["NSM_TUNNEL_IP"] || c.VPP.APISocket != set["NSM_VPP_API_SOCKET"] {
		t.Errorf("example read as %+v", c)
	}
}

// TestREADMEErrorLine checks the error line the README quotes.
func TestREADMEErrorLine(t *testing.T) {
	clearEnv(t)
	t.Setenv("NSM_VPP_INIT", "AF_XDP")
	_, err := config.FromEnv()
	if err == nil {
		t.Fatal("AF_XDP accepted")
	}
	if line := "`forwarder-vpp: " + err.Error() + "`"; !strings.Contains(readme(t), line) {
		t.Errorf("README does not quote the error as it is: %s", line)
	}
}
