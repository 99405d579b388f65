// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package dnscontext

import (
	"context"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
)

// NewServer returns the element that adds configs to every connection's DNS
// context. Nil configs are ignored; configs are copied, so the caller may
// reuse the slice.
func NewServer(configs ...*networkservice.DNSConfig) networkservice.NetworkServiceServer {
	s := &server{}
	for _, c := range configs {
		if c != nil {
			s.configs = append(s.configs, proto.Clone(c).(*networkservice.DNSConfig))
		}
	}
	return s
}

type server struct {
	chain.ServerLink
	configs []*networkservice.DNSConfig
}

func (s *server) Request(ctx context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	if len(s.configs) > 0 {
		conn := req.GetConnection()
		if conn.Context == nil {
			conn.Context = &networkservice.ConnectionContext{}
		}
		if conn.Context.DnsContext == nil {
			conn.Context.DnsContext = &networkservice.DNSContext{}
		}
		dns := conn.Context.DnsContext
		for _, c := range s.configs {
			if !contains(dns.GetConfigs(), c) {
				dns.Configs = append(dns.Configs, proto.Clone(c).(*networkservice.DNSConfig))
			}
		}
	}
	return s.Next().Request(ctx, req)
}

func (s *server) Close(ctx context.Context, conn *networkservice.Connection) (*emptypb.Empty, error) {
	return s.Next().Close(ctx, conn)
}

func contains(list []*networkservice.DNSConfig, c *networkservice.DNSConfig) bool {
	for _, have := range list {
		if proto.Equal(have, c) {
			return true
		}
	}
	return false
}

var _ networkservice.NetworkServiceServer = (*server)(nil)
