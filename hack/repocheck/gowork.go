// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package main

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// excludedModules are module directories that stay out of go.work: tools/
// pins code generators and must not leak their versions into the build.
var excludedModules = []string{"tools"}

type goWork struct {
	Go  string
	Use []struct{ DiskPath string }
}

func readGoWork(root string) (goWork, error) {
	var w goWork
	cmd := goExec(root, "work", "edit", "-json")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return w, fmt.Errorf("go work edit -json: %w", err)
	}
	if err := json.Unmarshal(out, &w); err != nil {
		return w, fmt.Errorf("go work edit -json: %w", err)
	}
	return w, nil
}

// workModules returns the directories go.work uses, slash-separated and
// relative to root ("apis", "cmd-nsmgr").
func workModules(root string) ([]string, error) {
	w, err := readGoWork(root)
	if err != nil {
		return nil, err
	}
	var dirs []string
	for _, u := range w.Use {
		dirs = append(dirs, cleanRel(u.DiskPath))
	}
	return dirs, nil
}

func cleanRel(p string) string {
	return filepath.ToSlash(filepath.Clean(strings.TrimPrefix(p, "./")))
}

// moduleDirs finds every directory under root with a go.mod, skipping
// hidden, testdata and vendor directories and the excluded modules.
func moduleDirs(root string) ([]string, error) {
	var dirs []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if path != root && skipDir(d.Name()) || slices.Contains(excludedModules, rel) {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Name() == "go.mod" && rel != "go.mod" {
			dirs = append(dirs, filepath.ToSlash(filepath.Dir(rel)))
		}
		return nil
	})
	slices.Sort(dirs)
	return dirs, err
}

func skipDir(name string) bool {
	return strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "vendor" || name == "bin"
}

func checkGoWork(root string, write bool) ([]string, error) {
	w, err := readGoWork(root)
	if err != nil {
		return nil, err
	}
	have, err := workModules(root)
	if err != nil {
		return nil, err
	}
	want, err := moduleDirs(root)
	if err != nil {
		return nil, err
	}
	var problems []string
	fix := "run: make generate"
	for _, d := range have {
		if !slices.Contains(want, d) {
			if write {
				if err := goCmd(root, "work", "edit", "-dropuse=./"+d); err != nil {
					return nil, err
				}
				continue
			}
			reason := "it has no go.mod"
			if slices.Contains(excludedModules, d) {
				reason = "it must stay out of the workspace"
			}
			problems = append(problems, fmt.Sprintf("go.work uses ./%s but %s (%s)", d, reason, fix))
		}
	}
	for _, d := range want {
		if !slices.Contains(have, d) {
			if write {
				if err := goCmd(root, "work", "use", "./"+d); err != nil {
					return nil, err
				}
				continue
			}
			problems = append(problems, fmt.Sprintf("%s/go.mod is not listed in go.work (%s)", d, fix))
		}
	}
	if raw, err := os.ReadFile(filepath.Join(root, ".go-version")); err == nil {
		v := strings.TrimSpace(string(raw))
		if w.Go != v {
			if write {
				if err := goCmd(root, "work", "edit", "-go="+v); err != nil {
					return nil, err
				}
			} else {
				problems = append(problems, fmt.Sprintf("go.work says go %s but .go-version says %s (%s)", w.Go, v, fix))
			}
		}
	}
	return problems, nil
}

func goCmd(dir string, args ...string) error {
	cmd := goExec(dir, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

// goExec runs the go tool on root's go.work even when the caller's
// environment switched workspaces off (GOWORK=off).
func goExec(root string, args ...string) *exec.Cmd {
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOWORK="+filepath.Join(root, "go.work"))
	return cmd
}
