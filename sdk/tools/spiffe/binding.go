// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package spiffe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc/credentials"
)

// Why connections are tracked: a peer checks a hop's path token against the
// certificate the hop presented in the TLS handshake of a connection
// (authorize's PrevTokenSigned on the connection the token came over, and
// NextTokenSigned, on the caller's side, for the token the hop sent on to
// the following hop over another connection). A gRPC connection lives
// across many calls, and so across SVID rotations. Two rules keep every
// token verifiable:
//   - the tokens for a connection's peer are signed with the SVID presented
//     on that connection, so a call on a connection made before a rotation
//     still carries a token its peer can check;
//   - connections that present a rotated SVID are closed as soon as the
//     rotation is seen (within sweepEvery; gRPC reconnects with a fresh
//     handshake), so that all connections of a process soon present the
//     same SVID again: a token a hop made on its downstream connection is
//     checked by its upstream caller against the upstream connection's
//     certificate. Calls in flight on a closed connection fail as
//     Unavailable, as after any connection loss, once per rotation.
// (Upstream NSM hit the same mismatch and closed connections on rotation,
// then dialled per request.)
//
// A connection is recognised in Generate by the peer's certificate slice of
// its TLS state: crypto/tls keeps one slice per connection, and gRPC hands
// the same state to every call on it. Session resumption would share that
// slice (and skip presenting a certificate), so servers disable it.

// tracker maps TLS connections to the SVID presented on them.
type tracker struct {
	src Source
	log logrus.FieldLogger

	mu       sync.Mutex
	conns    map[**x509.Certificate]*tracked
	sweeping bool // a sweep is scheduled
}

type tracked struct {
	svid *x509svid.SVID
	conn net.Conn
}

// sweepEvery is how often, while connections are open, the tracker looks
// for a rotated SVID (nanoseconds; variable for tests).
var sweepEvery = func() *atomic.Int64 { var v atomic.Int64; v.Store(int64(200 * time.Millisecond)); return &v }()

func newTracker(src Source, log logrus.FieldLogger) *tracker {
	return &tracker{src: src, log: log, conns: map[**x509.Certificate]*tracked{}}
}

// connKey identifies the TLS connection of info; nil when info is not TLS
// with a peer certificate.
func connKey(info credentials.AuthInfo) **x509.Certificate {
	var st *tls.ConnectionState
	switch ti := info.(type) {
	case credentials.TLSInfo:
		st = &ti.State
	case *credentials.TLSInfo:
		if ti != nil {
			st = &ti.State
		}
	}
	if st == nil || len(st.PeerCertificates) == 0 {
		return nil
	}
	return &st.PeerCertificates[0]
}

// svidFor returns the SVID presented on the connection of info, if known.
func (t *tracker) svidFor(info credentials.AuthInfo) *x509svid.SVID {
	k := connKey(info)
	if k == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if c, ok := t.conns[k]; ok {
		return c.svid
	}
	return nil
}

// add records that svid was presented on conn, whose handshake gave info,
// and returns conn wrapped so that closing it forgets it.
func (t *tracker) add(conn net.Conn, info credentials.AuthInfo, svid *x509svid.SVID) net.Conn {
	k := connKey(info)
	if k == nil || svid == nil {
		return conn
	}
	c := &tracked{svid: svid, conn: conn}
	t.mu.Lock()
	t.conns[k] = c
	if !t.sweeping {
		t.sweeping = true
		time.AfterFunc(time.Duration(sweepEvery.Load()), t.sweep)
	}
	t.mu.Unlock()
	return &trackedConn{Conn: conn, forget: func() { t.forget(k, c) }}
}

// sweep closes the connections that present another SVID than the current
// one, and runs again while connections are open.
func (t *tracker) sweep() {
	cur, err := t.src.GetX509SVID()
	t.mu.Lock()
	var stale []*tracked
	if err == nil {
		leaf := cur.Certificates[0]
		for k, c := range t.conns {
			if l := c.svid.Certificates[0]; l != leaf && !l.Equal(leaf) {
				stale = append(stale, c)
				delete(t.conns, k)
			}
		}
	}
	// A closed source ends the sweeps; its connections fail on their own.
	t.sweeping = err == nil && len(t.conns) > 0
	if t.sweeping {
		time.AfterFunc(time.Duration(sweepEvery.Load()), t.sweep)
	}
	t.mu.Unlock()
	if len(stale) > 0 {
		t.log.WithFields(logrus.Fields{"connections": len(stale), "spiffe_id": cur.ID.String()}).
			Info("SVID rotated: closing the connections made with the previous one; gRPC reconnects with the new one")
	}
	for _, c := range stale {
		_ = c.conn.Close()
	}
}

func (t *tracker) forget(k **x509.Certificate, c *tracked) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.conns[k] == c {
		delete(t.conns, k)
	}
}

type trackedConn struct {
	net.Conn
	once   sync.Once
	forget func()
}

func (c *trackedConn) Close() error {
	c.once.Do(c.forget)
	return c.Conn.Close()
}

// boundCreds are mTLS transport credentials that record the SVID each
// handshake presented.
type boundCreds struct {
	t      *tracker
	server bool
	info   credentials.ProtocolInfo
}

func newBoundCreds(t *tracker, server bool) *boundCreds {
	return &boundCreds{t: t, server: server, info: credentials.NewTLS(&tls.Config{}).Info()}
}

// config returns the TLS configuration of one handshake and where the SVID
// it presents will be.
func (c *boundCreds) config() (*tls.Config, *svidBox) {
	box := &svidBox{}
	var cfg *tls.Config
	if c.server {
		cfg = ServerTLSConfig(c.t.src)
		cfg.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return box.fetch(c.t.src) }
	} else {
		cfg = ClientTLSConfig(c.t.src)
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return box.fetch(c.t.src) }
	}
	return cfg, box
}

func (c *boundCreds) ClientHandshake(ctx context.Context, authority string, raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	cfg, box := c.config()
	conn, info, err := credentials.NewTLS(cfg).ClientHandshake(ctx, authority, raw)
	if err != nil {
		return nil, nil, err
	}
	return c.t.add(conn, info, box.svid), info, nil
}

func (c *boundCreds) ServerHandshake(raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	cfg, box := c.config()
	conn, info, err := credentials.NewTLS(cfg).ServerHandshake(raw)
	if err != nil {
		// The refused client often sees only a reset connection, so the
		// server's log is where an operator learns why.
		c.t.log.WithField("remote", raw.RemoteAddr().String()).WithError(err).Warn("mTLS handshake refused")
		return nil, nil, err
	}
	return c.t.add(conn, info, box.svid), info, nil
}

func (c *boundCreds) Info() credentials.ProtocolInfo { return c.info }

func (c *boundCreds) Clone() credentials.TransportCredentials {
	return &boundCreds{t: c.t, server: c.server, info: c.info}
}

// OverrideServerName is deprecated in gRPC and meaningless here: peers are
// checked by SPIFFE ID, not by name.
func (c *boundCreds) OverrideServerName(string) error { return nil }

// svidBox holds the SVID one handshake presented.
type svidBox struct {
	svid *x509svid.SVID
}

func (b *svidBox) fetch(src Source) (*tls.Certificate, error) {
	svid, err := src.GetX509SVID()
	if err != nil {
		return nil, err
	}
	b.svid = svid
	cert := &tls.Certificate{PrivateKey: svid.PrivateKey, Leaf: svid.Certificates[0]}
	for _, c := range svid.Certificates {
		cert.Certificate = append(cert.Certificate, c.Raw)
	}
	return cert, nil
}

var _ credentials.TransportCredentials = (*boundCreds)(nil)
