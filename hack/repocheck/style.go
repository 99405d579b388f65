// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package main

import (
	"bufio"
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

var header = []string{
	"// SPDX-License-Identifier: Apache-2.0",
	"// Copyright (c) 2026 The nsmesh Authors",
}

// checkStyle checks the SPDX header of every Go file of the workspace
// modules and of hack/, and that every package has a doc comment.
func checkStyle(root string) ([]string, error) {
	mods, err := workModules(root)
	if err != nil {
		return nil, err
	}
	dirs := append(slices.Clone(mods), "hack")
	var problems []string
	documented := map[string]bool{} // package dir -> has a doc comment
	for _, dir := range dirs {
		if _, err := os.Stat(filepath.Join(root, dir)); os.IsNotExist(err) {
			continue
		}
		err := walkGoFiles(filepath.Join(root, dir), func(file string) error {
			rel, _ := filepath.Rel(root, file)
			rel = filepath.ToSlash(rel)
			ok, err := hasHeader(file)
			if err != nil {
				return err
			}
			if !ok {
				problems = append(problems, fmt.Sprintf("%s does not start with the two SPDX lines %q", rel, strings.Join(header, `\n`)))
			}
			if strings.HasSuffix(file, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.PackageClauseOnly|parser.ParseComments)
			if err != nil {
				return err
			}
			pkgDir := filepath.ToSlash(filepath.Dir(rel))
			documented[pkgDir] = documented[pkgDir] || (f.Doc != nil && strings.TrimSpace(f.Doc.Text()) != "")
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	for _, dir := range sortedKeys(documented) {
		if !documented[dir] {
			problems = append(problems, fmt.Sprintf("package %s has no package doc comment (add one to doc.go)", dir))
		}
	}
	return problems, nil
}

func hasHeader(file string) (bool, error) {
	f, err := os.Open(file)
	if err != nil {
		return false, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for _, want := range header {
		if !s.Scan() || strings.TrimRight(s.Text(), "\r") != want {
			return false, s.Err()
		}
	}
	return true, nil
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
