// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package fdpass

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/edwarnicke/grpcfd"
	"github.com/sirupsen/logrus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// DefaultRecvTimeout bounds the wait for a descriptor. Descriptors travel
// with the message that names them, so they are there at once or never.
const DefaultRecvTimeout = time.Second

// Option configures an fdpass element.
type Option func(*options)

type options struct {
	timeout time.Duration
	logger  logrus.FieldLogger
}

// WithRecvTimeout sets how long a receiving element waits for a descriptor.
func WithRecvTimeout(d time.Duration) Option {
	return func(o *options) { o.timeout = d }
}

// WithLogger sets the logger used when the request context carries none.
func WithLogger(l logrus.FieldLogger) Option {
	return func(o *options) { o.logger = l }
}

func build(opts []Option) options {
	o := options{timeout: DefaultRecvTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	if o.timeout <= 0 {
		o.timeout = DefaultRecvTimeout
	}
	return o
}

// ServerOptions returns the gRPC server options that let a server exchange
// descriptors with its clients; creds are the real transport credentials
// (mTLS, or insecure.NewCredentials() in tests), wrapped.
func ServerOptions(creds credentials.TransportCredentials) []grpc.ServerOption {
	return []grpc.ServerOption{grpc.Creds(grpcfd.TransportCredentials(orRefuse(creds)))}
}

// DialOptions returns the dial options that let a client exchange
// descriptors with its server: creds wrapped, and interceptors that merge
// the per-RPC credentials of several elements so that each one's
// descriptors are sent.
func DialOptions(creds credentials.TransportCredentials) []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithTransportCredentials(grpcfd.TransportCredentials(orRefuse(creds))),
		grpcfd.WithChainUnaryInterceptor(),
		grpcfd.WithChainStreamInterceptor(),
	}
}

// orRefuse keeps a forgotten credentials argument from meaning plaintext.
func orRefuse(creds credentials.TransportCredentials) credentials.TransportCredentials {
	if creds == nil {
		return refuse{}
	}
	return creds
}

var errNoCreds = errors.New("fdpass: no transport credentials were configured; pass mTLS credentials (or insecure.NewCredentials() explicitly)")

// refuse fails every handshake.
type refuse struct{}

func (refuse) ClientHandshake(context.Context, string, net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return nil, nil, errNoCreds
}

func (refuse) ServerHandshake(net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return nil, nil, errNoCreds
}

func (refuse) Info() credentials.ProtocolInfo          { return credentials.ProtocolInfo{} }
func (refuse) Clone() credentials.TransportCredentials { return refuse{} }
func (refuse) OverrideServerName(string) error         { return nil }
