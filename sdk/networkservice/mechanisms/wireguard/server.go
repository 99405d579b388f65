// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package wireguard

import (
	"context"
	"errors"
	"net"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	apiwg "github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/wireguard"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/core/metadata"
)

var serverLease = metadata.NewKey[lease]("wireguard.server")

type server struct {
	chain.ServerLink
	ip    net.IP
	alloc *Allocator
}

// NewServer accepts WIREGUARD on tunnel address ip, with ports and keys from
// alloc (shared with the forwarder's client element and data plane).
func NewServer(ip net.IP, alloc *Allocator) (networkservice.NetworkServiceServer, error) {
	if err := checkIP(ip); err != nil {
		return nil, err
	}
	if alloc == nil {
		return nil, errors.New("wireguard: server: no allocator")
	}
	return &server{ip: ip, alloc: alloc}, nil
}

func (s *server) Request(ctx context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	m := apiwg.ToMechanism(req.GetConnection().GetMechanism())
	if m == nil {
		return s.Next().Request(ctx, req)
	}
	if err := s.checkOffer(m); err != nil {
		return nil, err
	}
	l, had := serverLease.Load(ctx, metadata.Server)
	if !had {
		var err error
		if l, err = s.alloc.lease(); err != nil {
			return nil, err
		}
		serverLease.Store(ctx, metadata.Server, l)
	}
	m.SetDstIP(s.ip)
	m.SetDstPort(l.port)
	m.SetDstPublicKey(l.public)

	conn, err := s.Next().Request(ctx, req)
	if err != nil && !had {
		s.alloc.release(l)
		serverLease.Delete(ctx, metadata.Server)
	}
	return conn, err
}

// checkOffer rejects an offer the data plane could not program, before
// anything is allocated.
func (s *server) checkOffer(m *apiwg.Mechanism) error {
	bad := func(why string, args ...any) error {
		return status.Errorf(codes.InvalidArgument, "wireguard: client forwarder's offer: "+why, args...)
	}
	src := m.SrcIP()
	if src == nil {
		return bad("no src_ip: the client forwarder must offer its tunnel address")
	}
	if (src.To4() == nil) != (s.ip.To4() == nil) {
		return bad("src_ip %s is not of the family of this node's tunnel address %s", src, s.ip)
	}
	if p, err := m.SrcPort(); err != nil || p == 0 {
		return bad("src_port %q is not a UDP port", m.Mechanism().GetParameters()[apiwg.SrcPort])
	}
	if _, err := m.SrcPublicKey(); err != nil {
		return bad("%v", err)
	}
	return nil
}

func (s *server) Close(ctx context.Context, conn *networkservice.Connection) (*emptypb.Empty, error) {
	if l, ok := serverLease.Load(ctx, metadata.Server); ok {
		s.alloc.release(l)
		serverLease.Delete(ctx, metadata.Server)
	}
	return s.Next().Close(ctx, conn)
}

var _ networkservice.NetworkServiceServer = (*server)(nil)
