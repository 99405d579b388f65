// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package wireguard negotiates REMOTE/WIREGUARD between two forwarders, with
// the parameter names upstream NSM uses (src_ip, src_port, src_public_key on
// the client side; dst_ip, dst_port, dst_public_key on the endpoint side).
//
// The client (the forwarder on the client's node, towards the remote nsmgr)
// offers a WIREGUARD preference with its tunnel address, a UDP port and a
// public key. The server (the forwarder on the endpoint's node, under the
// mechanism dispatcher for type WIREGUARD) checks the offer and adds its own
// address, port and public key. After the reply both forwarders know both
// ends, so each data plane can program its half without another round trip.
//
// # Keys
//
// Every connection gets its own Curve25519 key pair on each side, generated
// by the Allocator when the forwarder first negotiates the connection and
// kept for its lifetime (refreshes reuse it); Close and a failed first
// Request drop it. Only the public key is ever written into the mechanism:
// the private key stays in the Allocator, where the forwarder's data plane
// looks it up by the public key it published (Allocator.PrivateKey). Per
// connection rather than per forwarder (upstream uses one key per forwarder)
// so that one connection's key opens nothing else, and so that no key lives
// longer than the connection it protects. A restarted forwarder has lost its
// keys together with its tunnels; the next Request through it negotiates new
// ones, and the peer's refresh replaces its peer entry.
//
// # Ports
//
// Each tunnel is one WireGuard device with its own UDP socket on each node
// (one device per connection keeps the interface in the workload's
// namespace point to point), so each connection takes one port on each
// side, from the Allocator's range (default 51820-52819). The client and
// server elements of one forwarder must share one Allocator: they bind in the
// same host namespace. Ports are picked at random among the free ones, kept
// across refreshes and released on Close.
//
// # Choosing WireGuard
//
// NewSelectClient makes WireGuard the default for remote IP payload: it
// offers only WIREGUARD, so that a peer that cannot do WireGuard fails the
// Request instead of silently receiving plaintext. It offers the plain tunnel
// (VXLAN) instead when the payload is ETHERNET (WireGuard carries IP only) or
// when the connection asks for it with the label nsm.mechanism=vxlan; and, if
// configured with WithPlainFallback, after WireGuard for IP payload.
//
// Placement: NewClient (inside NewSelectClient) in the forwarder's client
// chain behind xconnect.WhenRemote; NewServer under the forwarder's mechanism
// dispatcher for type WIREGUARD.
package wireguard
