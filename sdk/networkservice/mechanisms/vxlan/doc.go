// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package vxlan negotiates REMOTE/VXLAN between two forwarders, with the
// parameter names upstream NSM uses, so any NSM forwarder can be the peer.
//
// The client side (the forwarder towards the remote node) offers a VXLAN
// preference carrying its tunnel address and port (src_ip, src_port). The
// server side (the forwarder on the endpoint's node) adds its own address and
// port (dst_ip, dst_port) and picks the VNI: unique among all the tunnels this
// forwarder accepts, whatever their source (the Linux kernel demultiplexes
// VXLAN by VNI and port only, so two devices with one VNI cannot coexist in a
// namespace), even when src ≤ dst and odd otherwise (upstream's parity rule,
// so that the tunnels a node accepts and those it initiates towards a peer
// never collide).
// A refresh keeps the VNI; Close and a failed first Request free it.
//
// Placement: the client in the forwarder's client chain behind
// xconnect.WhenRemote; the server under the forwarder's mechanism dispatcher
// for type VXLAN.
package vxlan
