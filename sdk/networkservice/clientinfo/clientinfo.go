// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package clientinfo

import (
	"context"
	"os"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
)

// Labels and the variables they come from.
var vars = []struct{ label, env string }{
	{"nodeName", "NODE_NAME"},
	{"podName", "POD_NAME"},
	{"clusterName", "CLUSTER_NAME"},
}

// Option configures the element.
type Option func(*options)

type options struct {
	getenv func(string) string
}

// WithGetenv replaces os.Getenv, for tests and embedding.
func WithGetenv(getenv func(string) string) Option {
	return func(o *options) { o.getenv = getenv }
}

// Labels returns the labels the environment provides.
func Labels(opts ...Option) map[string]string {
	o := options{getenv: os.Getenv}
	for _, opt := range opts {
		opt(&o)
	}
	out := make(map[string]string)
	for _, v := range vars {
		if val := o.getenv(v.env); val != "" {
			out[v.label] = val
		}
	}
	return out
}

// apply adds labels the connection does not have yet.
func apply(conn *networkservice.Connection, labels map[string]string) {
	if len(labels) == 0 || conn == nil {
		return
	}
	if conn.Labels == nil {
		conn.Labels = make(map[string]string, len(labels))
	}
	for k, v := range labels {
		if _, ok := conn.Labels[k]; !ok {
			conn.Labels[k] = v
		}
	}
}

// NewClient returns the client element.
func NewClient(opts ...Option) networkservice.NetworkServiceClient {
	return &client{labels: Labels(opts...)}
}

type client struct {
	chain.ClientLink
	labels map[string]string
}

func (c *client) Request(ctx context.Context, req *networkservice.NetworkServiceRequest, opts ...grpc.CallOption) (*networkservice.Connection, error) {
	apply(req.GetConnection(), c.labels)
	return c.Next().Request(ctx, req, opts...)
}

func (c *client) Close(ctx context.Context, conn *networkservice.Connection, opts ...grpc.CallOption) (*emptypb.Empty, error) {
	return c.Next().Close(ctx, conn, opts...)
}

// NewServer returns the server element.
func NewServer(opts ...Option) networkservice.NetworkServiceServer {
	return &server{labels: Labels(opts...)}
}

type server struct {
	chain.ServerLink
	labels map[string]string
}

func (s *server) Request(ctx context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	apply(req.GetConnection(), s.labels)
	return s.Next().Request(ctx, req)
}

func (s *server) Close(ctx context.Context, conn *networkservice.Connection) (*emptypb.Empty, error) {
	return s.Next().Close(ctx, conn)
}

var (
	_ networkservice.NetworkServiceClient = (*client)(nil)
	_ networkservice.NetworkServiceServer = (*server)(nil)
)
