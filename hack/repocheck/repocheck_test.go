// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const hdr = "// SPDX-License-Identifier: Apache-2.0\n// Copyright (c) 2026 The nsmesh Authors\n\n"

// writeTree creates files (path -> content) under a new temp dir.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func gomod(name string) string { return "module github.com/nsmesh/nsmesh/" + name + "\n\ngo 1.26\n" }

func goFile(pkg string, imports ...string) string {
	s := hdr + "// Package " + pkg + " is a test package.\npackage " + pkg + "\n\nimport (\n"
	for _, i := range imports {
		s += "\t_ \"" + i + "\"\n"
	}
	return s + ")\n"
}

// A clean tree: every module, every allowed direction.
func cleanTree() map[string]string {
	return map[string]string{
		".go-version":             "1.26.8\n",
		"go.work":                 "go 1.26.8\n\nuse (\n\t./apis\n\t./sdk\n\t./cmd-a\n\t./cmd-b\n)\n",
		"apis/go.mod":             gomod("apis"),
		"apis/x/x.go":             goFile("x", "fmt"),
		"sdk/go.mod":              gomod("sdk"),
		"sdk/y/y.go":              goFile("y", "github.com/nsmesh/nsmesh/apis/x"),
		"cmd-a/go.mod":            gomod("cmd-a"),
		"cmd-a/main.go":           goFile("main", "github.com/nsmesh/nsmesh/sdk/y", "github.com/nsmesh/nsmesh/cmd-a/internal/app"),
		"cmd-a/internal/app/a.go": goFile("app", "github.com/nsmesh/nsmesh/apis/x"),
		"cmd-b/go.mod":            gomod("cmd-b"),
		"cmd-b/main.go":           goFile("main", "github.com/nsmesh/nsmesh/sdk/y"),
		"tools/go.mod":            gomod("tools"),
		"sdk/testdata/mod/go.mod": gomod("ignored"),
	}
}

func with(base map[string]string, changes map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range changes {
		if v == "" {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

func TestCleanTreePasses(t *testing.T) {
	root := writeTree(t, cleanTree())
	for name, check := range map[string]func(string) ([]string, error){
		"gowork":  func(r string) ([]string, error) { return checkGoWork(r, false) },
		"imports": checkImports,
		"style":   checkStyle,
	} {
		problems, err := check(root)
		if err != nil || len(problems) > 0 {
			t.Errorf("%s on a clean tree: %v, %v", name, problems, err)
		}
	}
}

func TestImports(t *testing.T) {
	for _, tc := range []struct {
		desc    string
		changes map[string]string
		want    string
	}{
		{"apis imports sdk", map[string]string{"apis/x/bad.go": goFile("x", "github.com/nsmesh/nsmesh/sdk/y")}, "apis/x/bad.go imports github.com/nsmesh/nsmesh/sdk/y: apis must not import"},
		{"apis test imports sdk", map[string]string{"apis/x/bad_test.go": goFile("x", "github.com/nsmesh/nsmesh/sdk/y")}, "apis/x/bad_test.go imports"},
		{"build tags do not hide imports", map[string]string{"apis/x/bad_windows.go": "//go:build windows\n\n" + goFile("x", "github.com/nsmesh/nsmesh/cmd-a/internal/app")}, "apis/x/bad_windows.go"},
		{"sdk imports cmd", map[string]string{"sdk/y/bad.go": goFile("y", "github.com/nsmesh/nsmesh/cmd-a/internal/app")}, "sdk must not import cmd-* modules"},
		{"sdk imports a cmd not in the workspace", map[string]string{"sdk/y/bad.go": goFile("y", "github.com/nsmesh/nsmesh/cmd-zzz/pkg")}, "sdk must not import cmd-*"},
		{"cmd imports another cmd", map[string]string{"cmd-b/bad.go": goFile("main", "github.com/nsmesh/nsmesh/cmd-a/internal/app")}, "cmd-b/bad.go imports github.com/nsmesh/nsmesh/cmd-a/internal/app: a cmd-* module must not import another"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			problems, err := checkImports(writeTree(t, with(cleanTree(), tc.changes)))
			if err != nil {
				t.Fatal(err)
			}
			if len(problems) != 1 || !strings.Contains(problems[0], tc.want) {
				t.Fatalf("problems = %q, want one containing %q", problems, tc.want)
			}
		})
	}
}

func TestGoWork(t *testing.T) {
	for _, tc := range []struct {
		desc    string
		changes map[string]string
		want    []string
	}{
		{"module missing from go.work", map[string]string{"cmd-c/go.mod": gomod("cmd-c")}, []string{"cmd-c/go.mod is not listed in go.work"}},
		{"go.work lists a directory without go.mod", map[string]string{"cmd-b/go.mod": ""}, []string{"go.work uses ./cmd-b but it has no go.mod"}},
		{"tools in go.work", map[string]string{"go.work": "go 1.26.8\n\nuse (\n\t./apis\n\t./sdk\n\t./cmd-a\n\t./cmd-b\n\t./tools\n)\n"}, []string{"go.work uses ./tools but it must stay out"}},
		{"go version differs", map[string]string{".go-version": "1.26.9\n"}, []string{"go.work says go 1.26.8 but .go-version says 1.26.9"}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			root := writeTree(t, with(cleanTree(), tc.changes))
			problems, err := checkGoWork(root, false)
			if err != nil {
				t.Fatal(err)
			}
			if len(problems) != len(tc.want) {
				t.Fatalf("problems = %q, want %q", problems, tc.want)
			}
			for i := range tc.want {
				if !strings.Contains(problems[i], tc.want[i]) {
					t.Errorf("problem %q does not contain %q", problems[i], tc.want[i])
				}
			}
			// -write repairs every one of them.
			if _, err := checkGoWork(root, true); err != nil {
				t.Fatal(err)
			}
			if problems, err := checkGoWork(root, false); err != nil || len(problems) > 0 {
				t.Fatalf("after -write: %q, %v", problems, err)
			}
		})
	}
}

func TestStyle(t *testing.T) {
	for _, tc := range []struct {
		desc    string
		changes map[string]string
		want    string
	}{
		{"missing header", map[string]string{"sdk/y/z.go": "package y\n"}, "sdk/y/z.go does not start with the two SPDX lines"},
		{"missing header in a test", map[string]string{"sdk/y/z_test.go": "package y\n"}, "sdk/y/z_test.go does not start"},
		{"missing package doc", map[string]string{"sdk/y/y.go": hdr + "package y\n"}, "package sdk/y has no package doc comment"},
		{"header in hack", map[string]string{"hack/tool/main.go": "package main\n"}, "hack/tool/main.go does not start"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			problems, err := checkStyle(writeTree(t, with(cleanTree(), tc.changes)))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tc.want) }) {
				t.Fatalf("problems = %q, want one containing %q", problems, tc.want)
			}
		})
	}
}

func TestForbidden(t *testing.T) {
	for _, tc := range []struct {
		from, to string
		bad      bool
	}{
		{"apis", "apis", false}, {"apis", "sdk", true}, {"apis", "cmd-x", true},
		{"sdk", "apis", false}, {"sdk", "cmd-x", true}, {"sdk", "sdk", false},
		{"cmd-x", "sdk", false}, {"cmd-x", "apis", false}, {"cmd-x", "cmd-x", false}, {"cmd-x", "cmd-y", true},
		{"test", "cmd-x", false},
	} {
		if got := forbidden(tc.from, tc.to) != ""; got != tc.bad {
			t.Errorf("forbidden(%s, %s) = %v, want %v", tc.from, tc.to, got, tc.bad)
		}
	}
}
