// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package spiffe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc/credentials"
)

// Why connections are tracked: a peer checks a hop's path token against the
// certificate the hop presented in the TLS handshake of the connection the
// token travels on (authorize's PrevTokenSigned and NextTokenSigned). A gRPC
// connection lives across many calls, and so across SVID rotations, while a
// generator that always signed with the newest SVID would, after a rotation,
// sign tokens the peer cannot verify with the certificate it saw. So the
// identity remembers, per TLS connection, which SVID it presented, and
// signs the tokens for that connection's peer with that SVID. Before that
// SVID expires, a connection still using it is closed (gRPC reconnects with
// a fresh handshake and the current SVID), so tokens never run out with it.
//
// A connection is recognised in Generate by the peer's certificate slice of
// its TLS state: crypto/tls keeps one slice per connection, and gRPC hands
// the same state to every call on it. Session resumption would share that
// slice (and skip presenting a certificate), so servers disable it.

// tracker maps TLS connections to the SVID presented on them.
type tracker struct {
	src Source
	log logrus.FieldLogger

	mu    sync.Mutex
	conns map[**x509.Certificate]*tracked
}

type tracked struct {
	svid  *x509svid.SVID
	conn  net.Conn
	timer *time.Timer
}

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
	leaf := svid.Certificates[0]
	// Renew before the last sixth of the SVID's life (SPIRE rotates at half).
	closeAt := leaf.NotAfter.Add(-leaf.NotAfter.Sub(leaf.NotBefore) / 6)
	t.mu.Lock()
	t.conns[k] = c
	c.timer = time.AfterFunc(time.Until(closeAt), func() { t.expire(k, c) })
	t.mu.Unlock()
	return &trackedConn{Conn: conn, forget: func() { t.forget(k, c) }}
}

// recheck is how often a connection in its SVID's last sixth looks for a
// rotation.
const recheck = time.Second

// expire closes a connection whose SVID is about to run out as soon as the
// source has a newer one (before that, a new handshake would not help).
func (t *tracker) expire(k **x509.Certificate, c *tracked) {
	cur, err := t.src.GetX509SVID()
	if err != nil {
		return // closed
	}
	if cur.Certificates[0].Equal(c.svid.Certificates[0]) {
		t.mu.Lock()
		if t.conns[k] == c {
			c.timer.Reset(recheck)
		}
		t.mu.Unlock()
		return
	}
	t.log.WithFields(logrus.Fields{"remote": c.conn.RemoteAddr().String(), "spiffe_id": c.svid.ID.String()}).
		Info("closing a connection made with a rotated SVID before it expires; gRPC reconnects with the current one")
	t.forget(k, c)
	_ = c.conn.Close()
}

func (t *tracker) forget(k **x509.Certificate, c *tracked) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.conns[k] == c {
		delete(t.conns, k)
	}
	c.timer.Stop()
}

// len is the number of tracked connections (tests).
func (t *tracker) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.conns)
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
