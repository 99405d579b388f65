// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package spiffe

import (
	"crypto/tls"
	"net"

	"github.com/sirupsen/logrus"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"google.golang.org/grpc/credentials"
)

// ServerTLSConfig returns the mTLS configuration of a server: it presents
// the source's current SVID, requires a client certificate and accepts any
// client whose SVID verifies against the bundle of its trust domain (so a
// peer from a trust domain without a bundle in src is refused).
func ServerTLSConfig(src Source) *tls.Config {
	return tlsconfig.MTLSServerConfig(src, src, tlsconfig.AuthorizeAny())
}

// ClientTLSConfig returns the mTLS configuration of a client: it presents
// the current SVID and accepts any server whose SVID verifies against the
// bundle of its trust domain. Host names play no part: peers are SPIFFE IDs.
func ClientTLSConfig(src Source) *tls.Config {
	return tlsconfig.MTLSClientConfig(src, src, tlsconfig.AuthorizeAny())
}

// ServerCredentials returns gRPC server transport credentials with
// ServerTLSConfig. Servers that receive file descriptors wrap them with
// fdpass.ServerOptions. A refused handshake is logged (WithLogger) with the
// reason: the refused client often sees only a reset connection, so the
// server's log is where an operator learns why.
func ServerCredentials(src Source, opts ...Option) credentials.TransportCredentials {
	o := applyOptions(opts)
	return &logRefusals{TransportCredentials: credentials.NewTLS(ServerTLSConfig(src)), log: o.logger}
}

// ClientCredentials returns gRPC client transport credentials with
// ClientTLSConfig. Clients that send file descriptors wrap them with
// fdpass.DialOptions.
func ClientCredentials(src Source) credentials.TransportCredentials {
	return credentials.NewTLS(ClientTLSConfig(src))
}

// logRefusals logs the server handshakes that fail.
type logRefusals struct {
	credentials.TransportCredentials
	log logrus.FieldLogger
}

func (c *logRefusals) ServerHandshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	out, info, err := c.TransportCredentials.ServerHandshake(conn)
	if err != nil {
		c.log.WithField("remote", conn.RemoteAddr().String()).WithError(err).Warn("mTLS handshake refused")
	}
	return out, info, err
}

func (c *logRefusals) Clone() credentials.TransportCredentials {
	return &logRefusals{TransportCredentials: c.TransportCredentials.Clone(), log: c.log}
}
