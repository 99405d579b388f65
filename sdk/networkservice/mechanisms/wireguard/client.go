// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package wireguard

import (
	"context"
	"errors"
	"fmt"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	apiwg "github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/wireguard"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/core/metadata"
)

var clientLease = metadata.NewKey[lease]("wireguard.client")

type client struct {
	chain.ClientLink
	ip    net.IP
	alloc *Allocator
}

// NewClient offers WIREGUARD from tunnel address ip, with ports and keys
// from alloc (shared with the forwarder's server element and data plane).
func NewClient(ip net.IP, alloc *Allocator) (networkservice.NetworkServiceClient, error) {
	if err := checkIP(ip); err != nil {
		return nil, err
	}
	if alloc == nil {
		return nil, errors.New("wireguard: client: no allocator")
	}
	return &client{ip: ip, alloc: alloc}, nil
}

func checkIP(ip net.IP) error {
	if ip == nil || ip.IsUnspecified() || ip.IsMulticast() {
		return fmt.Errorf("wireguard: tunnel address %q: want a unicast address of this node", ip)
	}
	return nil
}

func (c *client) Request(ctx context.Context, req *networkservice.NetworkServiceRequest, opts ...grpc.CallOption) (*networkservice.Connection, error) {
	l, had := clientLease.Load(ctx, metadata.Client)
	if !had {
		var err error
		if l, err = c.alloc.lease(); err != nil {
			return nil, err
		}
	}
	if m := apiwg.ToMechanism(req.GetConnection().GetMechanism()); m != nil {
		// Refresh (or a re-request after the peer restarted): our side is
		// what we hold, whatever the stored mechanism says.
		c.fill(m, l)
	} else {
		pref := apiwg.New(c.ip, l.public)
		c.fill(apiwg.ToMechanism(pref), l)
		req.MechanismPreferences = append(req.MechanismPreferences, pref)
	}
	conn, err := c.Next().Request(ctx, req, opts...)
	if err != nil {
		if !had {
			c.alloc.release(l)
		}
		return nil, err
	}
	m := apiwg.ToMechanism(conn.GetMechanism())
	if m == nil {
		// The peer chose another offer (e.g. VXLAN after WireGuard).
		c.alloc.release(l)
		clientLease.Delete(ctx, metadata.Client)
		return conn, nil
	}
	if err := checkReply(m, l); err != nil {
		if !had {
			// Do not leave the peer with a connection the caller never sees.
			_, _ = c.Next().Close(context.WithoutCancel(ctx), conn, opts...)
			c.alloc.release(l)
		}
		return nil, status.Errorf(codes.Internal, "wireguard: connection %s: the endpoint-side forwarder answered with an unusable WIREGUARD mechanism: %v",
			conn.GetId(), err)
	}
	clientLease.Store(ctx, metadata.Client, l)
	return conn, nil
}

func (c *client) fill(m *apiwg.Mechanism, l lease) {
	m.SetSrcIP(c.ip)
	m.SetSrcPort(l.port)
	m.SetSrcPublicKey(l.public)
}

// checkReply verifies that the server kept our side and filled its own.
func checkReply(m *apiwg.Mechanism, l lease) error {
	if k, err := m.SrcPublicKey(); err != nil || k != l.public {
		return fmt.Errorf("src_public_key changed to %q", m.Mechanism().GetParameters()[apiwg.SrcPublicKey])
	}
	if p, err := m.SrcPort(); err != nil || p != l.port {
		return fmt.Errorf("src_port changed to %q", m.Mechanism().GetParameters()[apiwg.SrcPort])
	}
	if m.DstIP() == nil {
		return errors.New("no dst_ip")
	}
	if p, err := m.DstPort(); err != nil || p == 0 {
		return fmt.Errorf("dst_port %q is not a port", m.Mechanism().GetParameters()[apiwg.DstPort])
	}
	if _, err := m.DstPublicKey(); err != nil {
		return err
	}
	return nil
}

func (c *client) Close(ctx context.Context, conn *networkservice.Connection, opts ...grpc.CallOption) (*emptypb.Empty, error) {
	if l, ok := clientLease.Load(ctx, metadata.Client); ok {
		c.alloc.release(l)
		clientLease.Delete(ctx, metadata.Client)
	}
	return c.Next().Close(ctx, conn, opts...)
}

var _ networkservice.NetworkServiceClient = (*client)(nil)
