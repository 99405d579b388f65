// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package spiffe

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spiffe/go-spiffe/v2/workloadapi"
)

// Environment variables of the identity.
const (
	// EnvEndpointSocket is the SPIFFE Workload API address (the name every
	// SPIFFE library uses), e.g. unix:///run/spire/sockets/agent.sock.
	EnvEndpointSocket = workloadapi.SocketEnv
	// EnvSVIDDir is a directory with SVIDFile, KeyFile and BundleFile.
	EnvSVIDDir = "NSM_SVID_DIR"
	// EnvInsecure=true runs without TLS, for tests and development only.
	EnvInsecure = "NSM_INSECURE"
)

// Files of an SVID directory (NSM_SVID_DIR), as `nsmctl devca` writes them.
const (
	// SVIDFile holds the X.509-SVID: the leaf certificate first, then any
	// intermediates, PEM.
	SVIDFile = "svid.pem"
	// KeyFile holds the SVID's private key, PKCS#8 PEM.
	KeyFile = "svid_key.pem"
	// BundleFile holds the X.509 authorities of the SVID's trust domain, PEM.
	BundleFile = "bundle.pem"
)

// Mode is where an identity comes from.
type Mode int

// Modes.
const (
	ModeNone Mode = iota
	ModeWorkloadAPI
	ModeFiles
	ModeInsecure
	// ModeMemory is a source the program made itself (tests, sandbox).
	ModeMemory
)

func (m Mode) String() string {
	switch m {
	case ModeWorkloadAPI:
		return "workload-api"
	case ModeFiles:
		return "files"
	case ModeInsecure:
		return "insecure"
	case ModeMemory:
		return "memory"
	default:
		return "none"
	}
}

// Config says where a process's identity comes from.
type Config struct {
	Mode Mode
	// EndpointSocket is the Workload API address (ModeWorkloadAPI).
	EndpointSocket string
	// SVIDDir is the SVID directory (ModeFiles).
	SVIDDir string
}

// FromEnv reads the identity variables. Exactly one source must be chosen:
// none is ErrNoIdentity, two are ErrConflict, so that a deployment never
// silently runs on another identity than it meant to (or none).
// NSM_INSECURE=false counts as not set.
func FromEnv() (Config, error) {
	return fromLookup(os.LookupEnv)
}

func fromLookup(lookup func(string) (string, bool)) (Config, error) {
	get := func(k string) string { v, _ := lookup(k); return strings.TrimSpace(v) }
	socket, dir, insecureRaw := get(EnvEndpointSocket), get(EnvSVIDDir), get(EnvInsecure)
	insecure := false
	if insecureRaw != "" {
		b, err := strconv.ParseBool(insecureRaw)
		if err != nil {
			return Config{}, fmt.Errorf("%w: %s=%q: want true or false", ErrBadConfig, EnvInsecure, insecureRaw)
		}
		insecure = b
	}
	var set []string
	if socket != "" {
		set = append(set, EnvEndpointSocket)
	}
	if dir != "" {
		set = append(set, EnvSVIDDir)
	}
	if insecure {
		set = append(set, EnvInsecure+"=true")
	}
	switch {
	case len(set) == 0:
		return Config{}, fmt.Errorf("%w: set %s (SPIFFE Workload API), %s (a directory with %s, %s, %s; `nsmctl devca` makes one) or %s=true (plaintext, development only)",
			ErrNoIdentity, EnvEndpointSocket, EnvSVIDDir, SVIDFile, KeyFile, BundleFile, EnvInsecure)
	case len(set) > 1:
		return Config{}, fmt.Errorf("%w: %s are set; set only one", ErrConflict, strings.Join(set, " and "))
	case socket != "":
		if err := workloadapi.ValidateAddress(socket); err != nil {
			return Config{}, fmt.Errorf("%w: %s=%q: %v (want e.g. unix:///run/spire/sockets/agent.sock)", ErrBadConfig, EnvEndpointSocket, socket, err)
		}
		return Config{Mode: ModeWorkloadAPI, EndpointSocket: socket}, nil
	case dir != "":
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return Config{}, fmt.Errorf("%w: %s=%q: not a directory", ErrBadConfig, EnvSVIDDir, dir)
		}
		return Config{Mode: ModeFiles, SVIDDir: dir}, nil
	default:
		return Config{Mode: ModeInsecure}, nil
	}
}

// Insecure is the plaintext configuration (tests and development only).
func Insecure() Config { return Config{Mode: ModeInsecure} }

// String describes the configuration for logs.
func (c Config) String() string {
	switch c.Mode {
	case ModeWorkloadAPI:
		return "SPIFFE Workload API at " + c.EndpointSocket
	case ModeFiles:
		return "SVID files in " + c.SVIDDir
	case ModeInsecure:
		return "insecure (no TLS)"
	default:
		return "no identity"
	}
}

// UsageRows are the identity variables as "name\tdefault\tmeaning" lines,
// for a binary's -h output.
func UsageRows() []string {
	return []string{
		EnvEndpointSocket + "\t\tSPIFFE Workload API address (e.g. unix:///run/spire/sockets/agent.sock): mTLS with SVIDs from SPIRE",
		EnvSVIDDir + "\t\tdirectory with " + SVIDFile + ", " + KeyFile + ", " + BundleFile + " (nsmctl devca): mTLS, files reloaded when they change",
		EnvInsecure + "\tfalse\ttrue: no TLS, for tests and development only; one of the three identity settings is required",
	}
}

// WriteUsage writes UsageRows, one a line.
func WriteUsage(w io.Writer) error {
	for _, r := range UsageRows() {
		if _, err := fmt.Fprintln(w, r); err != nil {
			return err
		}
	}
	return nil
}
