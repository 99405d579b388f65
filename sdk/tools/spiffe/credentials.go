// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package spiffe

import (
	"crypto/tls"

	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
)

// ServerTLSConfig returns the mTLS configuration of a server: it presents
// the source's current SVID, requires a client certificate and accepts any
// client whose SVID verifies against the bundle of its trust domain (so a
// peer from a trust domain without a bundle in src is refused). Session
// resumption is off: every connection presents, and checks, a certificate.
func ServerTLSConfig(src Source) *tls.Config {
	cfg := tlsconfig.MTLSServerConfig(src, src, tlsconfig.AuthorizeAny())
	cfg.SessionTicketsDisabled = true
	return cfg
}

// ClientTLSConfig returns the mTLS configuration of a client: it presents
// the current SVID and accepts any server whose SVID verifies against the
// bundle of its trust domain. Host names play no part: peers are SPIFFE IDs.
func ClientTLSConfig(src Source) *tls.Config {
	return tlsconfig.MTLSClientConfig(src, src, tlsconfig.AuthorizeAny())
}
