// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package cli is nsmctl's command line: subcommands, flags, messages and
// exit codes (0 done, 1 failed, 2 wrong usage).
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/nsmesh/nsmesh/sdk/tools/spiffe"
	"github.com/nsmesh/nsmesh/sdk/tools/spiffe/devca"
)

// Exit codes.
const (
	ExitOK    = 0
	ExitFail  = 1
	ExitUsage = 2
)

// DefaultTrustDomain is the trust domain of `devca init` without
// --trust-domain.
const DefaultTrustDomain = "nsmesh.local"

// errUsage marks errors that are the caller's wrong usage (exit 2).
var errUsage = errors.New("usage")

const usage = `nsmctl: the nsmesh operator's tool

Usage:
  nsmctl devca init   --dir DIR [--trust-domain nsmesh.local] [--ttl 8760h] [--force]
                      [--components registry,nsmgr-1,forwarder-1,nse:icmp-server,...] [--svid-ttl 24h]
  nsmctl devca issue  --dir DIR --name NAME [--spiffe-id spiffe://TD/KIND/NAME] [--ttl 24h]
  nsmctl devca bundle --dir DIR
  nsmctl devca show   --dir DIR

devca makes a development trust domain: a CA in DIR (ca.pem, ca_key.pem) and
one SVID directory per component, DIR/NAME/{svid.pem,svid_key.pem,bundle.pem},
for NSM_SVID_DIR. Components without --spiffe-id get spiffe://TD/KIND/NAME,
KIND being one of registry, nsmgr, forwarder, nse, nsc: written kind:name or
taken from the name's first word (nsmgr-1 is an nsmgr).
Issuing again replaces an SVID; running processes reload it (rotation).
`

// Run runs nsmctl with args (without the program name) and returns the exit
// code.
func Run(args []string, stdout, stderr io.Writer) int {
	err := run(args, stdout)
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, flag.ErrHelp):
		_, _ = fmt.Fprint(stdout, usage)
		return ExitOK
	case errors.Is(err, errUsage):
		_, _ = fmt.Fprintf(stderr, "nsmctl: %s\n(run nsmctl -h for help)\n", strings.TrimPrefix(err.Error(), "usage: "))
		return ExitUsage
	default:
		_, _ = fmt.Fprintf(stderr, "nsmctl: %v\n", err)
		return ExitFail
	}
}

func run(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: no command", errUsage)
	}
	switch args[0] {
	case "-h", "--help", "help":
		return flag.ErrHelp
	case "devca":
	default:
		return fmt.Errorf("%w: unknown command %q", errUsage, args[0])
	}
	if len(args) < 2 {
		return fmt.Errorf("%w: devca needs a subcommand: init, issue, bundle or show", errUsage)
	}
	sub, rest := args[1], args[2:]
	switch sub {
	case "init":
		return devcaInit(rest, stdout)
	case "issue":
		return devcaIssue(rest, stdout)
	case "bundle":
		return devcaBundle(rest, stdout)
	case "show":
		return devcaShow(rest, stdout)
	case "-h", "--help", "help":
		return flag.ErrHelp
	default:
		return fmt.Errorf("%w: unknown devca subcommand %q (want init, issue, bundle or show)", errUsage, sub)
	}
}

// parse parses flags quietly: errors become usage errors with one line.
func parse(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %s: %v", errUsage, fs.Name(), err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: %s: unexpected argument %q", errUsage, fs.Name(), fs.Arg(0))
	}
	return nil
}

func needDir(name, dir string) error {
	if strings.TrimSpace(dir) == "" {
		return fmt.Errorf("%w: %s: --dir is required", errUsage, name)
	}
	return nil
}

func devcaInit(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("devca init", flag.ContinueOnError)
	dir := fs.String("dir", "", "directory of the CA and the SVIDs")
	tdName := fs.String("trust-domain", DefaultTrustDomain, "trust domain")
	ttl := fs.Duration("ttl", devca.DefaultCATTL, "lifetime of a new CA")
	force := fs.Bool("force", false, "replace an existing CA and every listed SVID")
	components := fs.String("components", "", "comma-separated components to issue SVIDs for (kind:name or name)")
	svidTTL := fs.Duration("svid-ttl", devca.DefaultSVIDTTL, "lifetime of the components' SVIDs")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := needDir(fs.Name(), *dir); err != nil {
		return err
	}
	td, err := spiffeid.TrustDomainFromString(*tdName)
	if err != nil {
		return fmt.Errorf("%w: devca init: --trust-domain %q: %v", errUsage, *tdName, err)
	}
	if *ttl <= 0 || *svidTTL <= 0 {
		return fmt.Errorf("%w: devca init: --ttl and --svid-ttl must be positive", errUsage)
	}
	type comp struct{ kind, name string }
	var comps []comp
	if strings.TrimSpace(*components) != "" {
		for c := range strings.SplitSeq(*components, ",") {
			kind, name, err := devca.ParseComponent(c)
			if err != nil {
				return fmt.Errorf("%w: devca init: --components: %v", errUsage, err)
			}
			if slices.ContainsFunc(comps, func(x comp) bool { return x.name == name }) {
				return fmt.Errorf("%w: devca init: --components: %q is listed twice", errUsage, name)
			}
			comps = append(comps, comp{kind, name})
		}
	}
	ca, created, err := devca.Init(*dir, td, *ttl, *force)
	if err != nil {
		return err
	}
	until := ca.Certificate().NotAfter.UTC().Format(time.RFC3339)
	if created {
		_, _ = fmt.Fprintf(out, "created CA of trust domain %s in %s (valid until %s)\n", td, *dir, until)
	} else {
		_, _ = fmt.Fprintf(out, "kept the CA of trust domain %s in %s (valid until %s)\n", td, *dir, until)
	}
	// An SVID is kept while it has at least half its lifetime (at most an
	// hour) left, so that running init again is harmless.
	keep := min(*svidTTL/2, time.Hour)
	for _, c := range comps {
		id, err := devca.ConventionalID(td, c.kind, c.name)
		if err != nil {
			return err
		}
		sdir := filepath.Join(*dir, c.name)
		if !*force && !created {
			if err := ca.Usable(sdir, id, keep); err == nil {
				_, _ = fmt.Fprintf(out, "kept %s: %s\n", sdir, id)
				continue
			}
		}
		svid, err := ca.IssueToDir(sdir, id, *svidTTL)
		if err != nil {
			return err
		}
		_, _ = fmt.Fprintf(out, "issued %s: %s (valid until %s)\n", sdir, id, svid.Certificates[0].NotAfter.UTC().Format(time.RFC3339))
	}
	if len(comps) > 0 {
		_, _ = fmt.Fprintf(out, "run each component with NSM_SVID_DIR=%s\n", filepath.Join(*dir, "<name>"))
	}
	return nil
}

func devcaIssue(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("devca issue", flag.ContinueOnError)
	dir := fs.String("dir", "", "directory of the CA")
	name := fs.String("name", "", "component name: the SVID goes into DIR/NAME (kind:name also sets the kind)")
	idFlag := fs.String("spiffe-id", "", "SPIFFE ID (default spiffe://TD/KIND/NAME)")
	ttl := fs.Duration("ttl", devca.DefaultSVIDTTL, "lifetime of the SVID")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := needDir(fs.Name(), *dir); err != nil {
		return err
	}
	if *ttl <= 0 {
		return fmt.Errorf("%w: devca issue: --ttl must be positive", errUsage)
	}
	ca, err := devca.Load(*dir)
	if err != nil {
		return err
	}
	var id spiffeid.ID
	var dirName string
	switch {
	case *idFlag != "":
		if id, err = spiffeid.FromString(*idFlag); err != nil {
			return fmt.Errorf("%w: devca issue: --spiffe-id %q: %v", errUsage, *idFlag, err)
		}
		if *name == "" {
			return fmt.Errorf("%w: devca issue: --name is required (the SVID goes into DIR/NAME)", errUsage)
		}
		if _, after, ok := strings.Cut(*name, ":"); ok {
			dirName = after
		} else {
			dirName = *name
		}
		if err := devca.ValidName(dirName); err != nil {
			return fmt.Errorf("%w: devca issue: --name: %v", errUsage, err)
		}
	case *name == "":
		return fmt.Errorf("%w: devca issue: --name is required", errUsage)
	default:
		kind, n, err := devca.ParseComponent(*name)
		if err != nil {
			return fmt.Errorf("%w: devca issue: --name: %v", errUsage, err)
		}
		dirName = n
		if id, err = devca.ConventionalID(ca.TrustDomain(), kind, n); err != nil {
			return err
		}
	}
	sdir := filepath.Join(*dir, dirName)
	svid, err := ca.IssueToDir(sdir, id, *ttl)
	if err != nil {
		return err
	}
	_, _ = fmt.Fprintf(out, "issued %s: %s (valid until %s)\n", sdir, id, svid.Certificates[0].NotAfter.UTC().Format(time.RFC3339))
	return nil
}

func devcaBundle(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("devca bundle", flag.ContinueOnError)
	dir := fs.String("dir", "", "directory of the CA")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := needDir(fs.Name(), *dir); err != nil {
		return err
	}
	ca, err := devca.Load(*dir)
	if err != nil {
		return err
	}
	b, err := ca.Bundle().Marshal()
	if err != nil {
		return err
	}
	_, err = out.Write(b)
	return err
}

func devcaShow(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("devca show", flag.ContinueOnError)
	dir := fs.String("dir", "", "directory of the CA")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := needDir(fs.Name(), *dir); err != nil {
		return err
	}
	ca, err := devca.Load(*dir)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	_, _ = fmt.Fprintf(tw, "CA\tspiffe://%s\t%s\t\n", ca.TrustDomain(), ca.Certificate().NotAfter.UTC().Format(time.RFC3339))
	entries, err := os.ReadDir(*dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		sdir := filepath.Join(*dir, e.Name())
		svid, err := x509svid.Load(filepath.Join(sdir, spiffe.SVIDFile), filepath.Join(sdir, spiffe.KeyFile))
		if err != nil {
			continue // not an SVID directory
		}
		state := "ok"
		if _, _, err := x509svid.Verify(svid.Certificates, ca.Bundle()); err != nil {
			state = "INVALID: " + err.Error()
		}
		_, _ = fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Name(), svid.ID, svid.Certificates[0].NotAfter.UTC().Format(time.RFC3339), state)
	}
	return tw.Flush()
}
