// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package vppstart

import (
	"bytes"
	"os/user"
	"path/filepath"
	"runtime"
	"text/template"
)

// Params are what the startup configuration of a local VPP depends on.
type Params struct {
	// RootDir is the absolute directory under which every file of the local
	// VPP lives ("/" for the usual paths).
	RootDir string
	// Group owns the API sockets and shared memory; empty leaves them to
	// VPP's defaults (VPP refuses to start when the group does not exist).
	Group string
	// BufferDataSize is the data size of a VPP buffer: one buffer with its
	// metadata fills a 4 KiB page.
	BufferDataSize int
}

// BuffersPerNUMA is the number of packet buffers: 256 for each of 128
// interfaces.
const BuffersPerNUMA = 256 * 128

// DefaultParams are the parameters for this machine: group "vpp" when it
// exists (VPP's packages create it), the buffer size of this architecture.
func DefaultParams(rootDir string) Params {
	p := Params{RootDir: rootDir, BufferDataSize: 3776}
	if runtime.GOARCH == "arm64" {
		// 128-byte cache lines make the buffer metadata larger.
		p.BufferDataSize = 3712
	}
	if _, err := user.LookupGroup("vpp"); err == nil {
		p.Group = "vpp"
	}
	return p
}

// ConfigFile is where the startup configuration is written.
func (p Params) ConfigFile() string { return p.path("etc/vpp/helper/vpp.conf") }

// APISocket is the socket VPP serves its binary API on.
func (p Params) APISocket() string { return p.path("var/run/vpp/api.sock") }

// CLISocket is the socket of vppctl.
func (p Params) CLISocket() string { return p.path("var/run/vpp/cli.sock") }

// StatsSocket is the socket of the statistics segment.
func (p Params) StatsSocket() string { return p.path("var/run/vpp/stats.sock") }

// LogFile is VPP's own log.
func (p Params) LogFile() string { return p.path("var/log/vpp/vpp.log") }

func (p Params) path(rel string) string { return filepath.Join(p.RootDir, rel) }

// The layout follows upstream's helper. No "cpu" settings: everything runs
// on the main thread. No hugepage settings: VPP falls back to 4 KiB pages.
var confTemplate = template.Must(template.New("vpp.conf").Parse(`# Written by forwarder-vpp (used as it is when it exists).
unix {
  nodaemon
  log {{.LogFile}}
  full-coredump
  cli-listen {{.CLISocket}}
{{- if .Group}}
  gid {{.Group}}
{{- end}}
}
api-trace {
  on
}
{{- if .Group}}
api-segment {
  gid {{.Group}}
}
{{- end}}
socksvr {
  socket-name {{.APISocket}}
}
statseg {
  socket-name {{.StatsSocket}}
}
cpu {
}
buffers {
  buffers-per-numa {{.BuffersPerNUMA}}
  default data-size {{.BufferDataSize}}
}
plugins {
  plugin dpdk_plugin.so { disable }
}
`))

// Render returns the startup configuration for p.
func Render(p Params) []byte {
	var b bytes.Buffer
	data := struct {
		Params
		LogFile, CLISocket, APISocket, StatsSocket string
		BuffersPerNUMA                             int
	}{p, p.LogFile(), p.CLISocket(), p.APISocket(), p.StatsSocket(), BuffersPerNUMA}
	if err := confTemplate.Execute(&b, data); err != nil {
		// The template and its data are fixed at compile time.
		panic(err)
	}
	return b.Bytes()
}
