// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package main

import (
	"bufio"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ourPrefix starts the module path of every module of the repository.
const ourPrefix = "github.com/nsmesh/nsmesh/"

// forbidden returns why module from (a short name such as "sdk" or
// "cmd-nsmgr") must not import module to, or "" when it may.
func forbidden(from, to string) string {
	switch {
	case from == to:
		return ""
	case from == "apis":
		return "apis must not import any other nsmesh module"
	case from == "sdk" && strings.HasPrefix(to, "cmd-"):
		return "sdk must not import cmd-* modules"
	case strings.HasPrefix(from, "cmd-") && strings.HasPrefix(to, "cmd-"):
		return "a cmd-* module must not import another cmd-* module"
	}
	return ""
}

// checkImports parses the imports of every Go file (tests included, build
// tags ignored, so no platform can hide an import) of every workspace
// module.
func checkImports(root string) ([]string, error) {
	mods, err := workModules(root)
	if err != nil {
		return nil, err
	}
	known := map[string]string{} // module path -> short name
	for _, dir := range mods {
		path, err := modulePath(filepath.Join(root, dir, "go.mod"))
		if err != nil {
			return nil, err
		}
		known[path] = strings.TrimPrefix(path, ourPrefix)
	}
	var problems []string
	for _, dir := range mods {
		path, _ := modulePath(filepath.Join(root, dir, "go.mod"))
		from := known[path]
		err := walkGoFiles(filepath.Join(root, dir), func(file string) error {
			f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.ImportsOnly)
			if err != nil {
				return err
			}
			for _, imp := range f.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				if !strings.HasPrefix(p, ourPrefix) {
					continue
				}
				if why := forbidden(from, moduleOf(p, known)); why != "" {
					rel, _ := filepath.Rel(root, file)
					problems = append(problems, fmt.Sprintf("%s imports %s: %s", filepath.ToSlash(rel), p, why))
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return problems, nil
}

// moduleOf names the module an import path belongs to: the longest known
// module path that prefixes it, else the first path element after ours
// (a module not in the workspace is still judged by its name).
func moduleOf(importPath string, known map[string]string) string {
	best := ""
	for path := range known {
		if (importPath == path || strings.HasPrefix(importPath, path+"/")) && len(path) > len(best) {
			best = path
		}
	}
	if best != "" {
		return known[best]
	}
	rest := strings.TrimPrefix(importPath, ourPrefix)
	first, _, _ := strings.Cut(rest, "/")
	return first
}

func modulePath(gomod string) (string, error) {
	f, err := os.Open(gomod)
	if err != nil {
		return "", err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(s.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`), nil
		}
	}
	if err := s.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("%s has no module line", gomod)
}

// walkGoFiles calls fn for every .go file of the module rooted at dir,
// skipping nested modules and directories the go tool ignores.
func walkGoFiles(dir string, fn func(string) error) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path == dir {
				return nil
			}
			if skipDir(d.Name()) {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(path, ".go") {
			return fn(path)
		}
		return nil
	})
}
