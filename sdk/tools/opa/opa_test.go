// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package opa_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"go.uber.org/goleak"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/nsmesh/nsmesh/sdk/tools/opa"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func write(t testing.TB, dir, name, src string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func input(t *testing.T, js string) ast.Value {
	t.Helper()
	v, err := ast.ValueFromReader(strings.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name     string
		src      string
		data     string
		input    string
		wantCode codes.Code
		wantMsg  string
	}{
		{name: "v1 allows", src: "package nsm\nvalid if input.x == 1", input: `{"x":1}`},
		{name: "v1 undefined denies", src: "package nsm\nvalid if input.x == 1", input: `{"x":2}`,
			wantCode: codes.PermissionDenied, wantMsg: "no sufficient privileges ("},
		{name: "false denies", src: "package nsm\nvalid := input.x == 1", input: `{"x":2}`,
			wantCode: codes.PermissionDenied, wantMsg: "no sufficient privileges"},
		{name: "upstream v0 syntax", src: "package nsm\ndefault valid = false\nvalid {\n input.x == 1\n}", input: `{"x":1}`},
		{name: "reason explains a denial", src: "package nsm\nvalid if input.x == 1\nreason := sprintf(\"x is %v\", [input.x])", input: `{"x":2}`,
			wantCode: codes.PermissionDenied, wantMsg: "p.rego): x is 2"},
		{name: "data file", src: "package nsm\nvalid if input.x in data.allowed", data: `{"allowed":[1,3]}`, input: `{"x":3}`},
		{name: "data file denies", src: "package nsm\nvalid if input.x in data.allowed", data: `{"allowed":[1,3]}`, input: `{"x":2}`,
			wantCode: codes.PermissionDenied},
		{name: "non-boolean is an error", src: "package nsm\nvalid := \"yes\"", input: `{}`,
			wantCode: codes.Internal, wantMsg: "not a boolean"},
		{name: "builtin error is an error", src: "package nsm\nvalid if io.jwt.decode(input.t)", input: `{"t":"garbage"}`,
			wantCode: codes.Internal, wantMsg: "eval_builtin_error: io.jwt.decode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			f := write(t, dir, "p.rego", tt.src)
			if tt.data != "" {
				write(t, dir, "p.json", tt.data)
			}
			p, err := opa.Open(context.Background(), f)
			if err != nil {
				t.Fatal(err)
			}
			if p.Name() != "p" || p.File() != f {
				t.Fatalf("name %q file %q", p.Name(), p.File())
			}
			err = p.Check(context.Background(), input(t, tt.input))
			if status.Code(err) != tt.wantCode || !strings.Contains(status.Convert(err).Message(), tt.wantMsg) {
				t.Fatalf("got %v, want %v %q", err, tt.wantCode, tt.wantMsg)
			}
		})
	}
}

func TestBadPolicies(t *testing.T) {
	tests := []struct{ name, src, data, want string }{
		{"syntax", "package nsm\nvalid if {", "", "p.rego:"},
		{"other package", "package foo\nvalid := true", "", "package foo, want package nsm"},
		{"no valid rule", "package nsm\nallow := true", "", "defines no rule valid"},
		{"unsafe", "package nsm\nvalid if x == 1", "", "p.rego"},
		{"data not an object", "package nsm\nvalid := true", "[1]", "p.json is not a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			f := write(t, dir, "p.rego", tt.src)
			if tt.data != "" {
				write(t, dir, "p.json", tt.data)
			}
			_, err := opa.Open(context.Background(), f)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error with %q", err, tt.want)
			}
		})
	}
}

func TestFiles(t *testing.T) {
	dir := t.TempDir()
	a := write(t, dir, "common/a.rego", "package nsm\nvalid := true")
	b := write(t, dir, "common/b.rego", "package nsm\nvalid := true")
	c := write(t, dir, "server/c.rego", "package nsm\nvalid := true")
	write(t, dir, "common/a.json", "{}")
	tests := []struct {
		name    string
		masks   []string
		want    []string
		wantErr string
	}{
		{name: "file", masks: []string{a}, want: []string{a}},
		{name: "directory", masks: []string{filepath.Join(dir, "common")}, want: []string{a, b}},
		{name: "glob", masks: []string{filepath.Join(dir, "*", "*.rego")}, want: []string{a, b, c}},
		{name: "directory and regexp", masks: []string{filepath.Join(dir, "common", ".*.rego")}, want: []string{a, b}},
		{name: "regexp picks", masks: []string{filepath.Join(dir, "common", "(a|x).rego")}, want: []string{a}},
		{name: "duplicates once, blanks skipped", masks: []string{a, " ", filepath.Join(dir, "common")}, want: []string{a, b}},
		{name: "upstream built-in sets are native", masks: []string{"etc/nsm/opa/common/.*.rego", "etc/nsm/opa/server/.*.rego", c}, want: []string{c}},
		{name: "nothing matched", masks: []string{filepath.Join(dir, "nope", "*.rego")}, wantErr: "matches no .rego file"},
		{name: "bad regexp", masks: []string{filepath.Join(dir, "common", "[(.rego")}, wantErr: "no file, glob or directory/regexp mask"},
		{name: "none", masks: nil, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := opa.Files(tt.masks)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, %v; want error %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
	ps, err := opa.Load(context.Background(), []string{filepath.Join(dir, "common")})
	if err != nil || len(ps) != 2 || ps[0].Name() != "a" || ps[1].Name() != "b" {
		t.Fatalf("Load: %v, %v", ps, err)
	}
}

func TestLoadEnv(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "a.rego", "package nsm\nvalid := true")
	write(t, dir, "bad.rego", "package nsm\nvalid if {")
	ps, err := opa.LoadEnv(context.Background(), "NSM_X_POLICIES", " "+filepath.Join(dir, "a.rego")+", etc/nsm/opa/common/.*.rego ,")
	if err != nil || len(ps) != 1 || ps[0].Name() != "a" {
		t.Fatalf("got %v, %v", ps, err)
	}
	if ps, err := opa.LoadEnv(context.Background(), "NSM_X_POLICIES", ""); err != nil || len(ps) != 0 {
		t.Fatalf("empty: %v, %v", ps, err)
	}
	_, err = opa.LoadEnv(context.Background(), "NSM_X_POLICIES", filepath.Join(dir, "bad.rego"))
	if err == nil || !strings.HasPrefix(err.Error(), "NSM_X_POLICIES: "+filepath.Join(dir, "bad.rego")) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("got %q, want a one-line error naming the variable and the file", err)
	}
}
