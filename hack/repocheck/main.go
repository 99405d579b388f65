// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Command repocheck enforces the repository's house rules that no compiler
// checks. It uses only the standard library so that it runs with
// `GOWORK=off go run ./hack/repocheck` without belonging to any module.
//
//	repocheck gowork [-write]  go.work lists exactly the directories holding a
//	                           go.mod (tools/ excepted) and the go version of
//	                           .go-version; -write fixes the list
//	repocheck imports          dependency direction: apis imports nothing of
//	                           ours, sdk no cmd-*, no cmd-* another cmd-*
//	repocheck style            every Go file starts with the two SPDX lines,
//	                           every package has a doc comment
//
// Each problem is printed as one line naming the file or module and the way
// out; the exit status is 1 when there was any.
package main

import (
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	root, err := repoRoot()
	if err != nil {
		fatal(err)
	}
	var problems []string
	switch os.Args[1] {
	case "gowork":
		write := len(os.Args) > 2 && os.Args[2] == "-write"
		problems, err = checkGoWork(root, write)
	case "imports":
		problems, err = checkImports(root)
	case "style":
		problems, err = checkStyle(root)
	default:
		usage()
	}
	if err != nil {
		fatal(err)
	}
	for _, p := range problems {
		fmt.Fprintf(os.Stderr, "%s: %s\n", os.Args[1], p)
	}
	if len(problems) > 0 {
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: repocheck gowork [-write] | imports | style")
	os.Exit(2)
}

func fatal(err error) {
	fmt.Fprintf(os.Stderr, "repocheck: %v\n", err)
	os.Exit(2)
}

// repoRoot is the nearest directory upwards holding go.work.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.work in the current directory or above")
		}
		dir = parent
	}
}
