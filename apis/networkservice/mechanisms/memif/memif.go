// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package memif describes the LOCAL/MEMIF mechanism: a shared-memory packet
// interface between a user-space data plane (VPP) and the workload, set up
// over a unix socket. The socket is either a file (inodeURL names it) or an
// abstract socket (socketfile names it, inodeURL names the netns it lives in).
package memif

import (
	"errors"
	"fmt"
	"net/url"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/cls"
	"github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/common"
	"github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/internal/params"
)

const (
	// MECHANISM is the Mechanism.type of memif interfaces.
	MECHANISM = "MEMIF"

	// SocketFilename is the abstract socket's name.
	SocketFilename = "socketfile"
	// SocketFileURL is the socket file's URL (file sockets).
	SocketFileURL = common.InodeURL
	// NetNSURL is the URL of the netns holding the abstract socket. It is the
	// same key as SocketFileURL: a mechanism uses one form or the other.
	NetNSURL = common.InodeURL
	// FileScheme is the scheme of a usable SocketFileURL or NetNSURL.
	FileScheme = "file"
)

// New returns a LOCAL/MEMIF mechanism for the socket file at socketPath.
func New(socketPath string) *networkservice.Mechanism {
	return &networkservice.Mechanism{
		Cls:        cls.LOCAL,
		Type:       MECHANISM,
		Parameters: map[string]string{SocketFileURL: fileURL(socketPath)},
	}
}

// NewAbstract returns a LOCAL/MEMIF mechanism whose socket is abstract and
// lives in the netns at netnsPath.
func NewAbstract(netnsPath string) *networkservice.Mechanism {
	return &networkservice.Mechanism{
		Cls:        cls.LOCAL,
		Type:       MECHANISM,
		Parameters: map[string]string{NetNSURL: fileURL(netnsPath)},
	}
}

func fileURL(path string) string {
	return (&url.URL{Scheme: FileScheme, Path: path}).String()
}

// Mechanism is a typed view of a MEMIF mechanism.
type Mechanism struct {
	m *networkservice.Mechanism
}

// ToMechanism returns the memif view of m, or nil when m is not MEMIF.
func ToMechanism(m *networkservice.Mechanism) *Mechanism {
	if m.GetType() != MECHANISM {
		return nil
	}
	return &Mechanism{m: m}
}

// Mechanism returns the wrapped mechanism.
func (mm *Mechanism) Mechanism() *networkservice.Mechanism { return mm.m }

// GetSocketFileURL returns the socket file URL (or the netns URL for an
// abstract socket: the key is shared).
func (mm *Mechanism) GetSocketFileURL() string { return params.String(mm.m, SocketFileURL) }

// SetSocketFileURL sets the socket file URL.
func (mm *Mechanism) SetSocketFileURL(u string) { params.SetString(mm.m, SocketFileURL, u) }

// GetNetNSURL returns the netns URL of an abstract socket.
func (mm *Mechanism) GetNetNSURL() string { return params.String(mm.m, NetNSURL) }

// SetNetNSURL sets the netns URL of an abstract socket.
func (mm *Mechanism) SetNetNSURL(u string) { params.SetString(mm.m, NetNSURL, u) }

// GetSocketFilename returns the abstract socket's name.
func (mm *Mechanism) GetSocketFilename() string { return params.String(mm.m, SocketFilename) }

// SetSocketFilename sets the abstract socket's name.
func (mm *Mechanism) SetSocketFilename(name string) { params.SetString(mm.m, SocketFilename, name) }

// IsAbstract reports whether the socket is abstract (has a socketfile name).
func (mm *Mechanism) IsAbstract() bool { return mm.GetSocketFilename() != "" }

// FilePath returns the path of the inodeURL file: the socket file, or the
// netns of an abstract socket. It fails for inode:// URLs, which mean the
// file descriptor was not received through grpcfd.
func (mm *Mechanism) FilePath() (string, error) {
	raw := params.String(mm.m, SocketFileURL)
	if raw == "" {
		return "", errors.New("memif: mechanism has no " + SocketFileURL + " parameter")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("memif: %s %q: %w", SocketFileURL, raw, err)
	}
	if u.Scheme != FileScheme || u.Path == "" {
		return "", fmt.Errorf("memif: %s %q: want %s:///path (was the file passed with grpcfd?)", SocketFileURL, raw, FileScheme)
	}
	return u.Path, nil
}
