// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package vxlan

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/vxlan"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/core/metadata"
)

// DefaultPort is the IANA VXLAN port.
const DefaultPort = 4789

type client struct {
	chain.ClientLink
	ip   net.IP
	port uint16
}

// NewClient offers VXLAN from tunnel address ip (port 0 means DefaultPort).
func NewClient(ip net.IP, port uint16) networkservice.NetworkServiceClient {
	if port == 0 {
		port = DefaultPort
	}
	return &client{ip: ip, port: port}
}

func (c *client) Request(ctx context.Context, req *networkservice.NetworkServiceRequest, opts ...grpc.CallOption) (*networkservice.Connection, error) {
	if m := vxlan.ToMechanism(req.GetConnection().GetMechanism()); m != nil {
		// Refresh: keep what was agreed, but make sure our side is current.
		m.SetSrcIP(c.ip)
		m.SetSrcPort(c.port)
	} else {
		pref := vxlan.New(c.ip)
		vxlan.ToMechanism(pref).SetSrcPort(c.port)
		req.MechanismPreferences = append(req.MechanismPreferences, pref)
	}
	return c.Next().Request(ctx, req, opts...)
}

func (c *client) Close(ctx context.Context, conn *networkservice.Connection, opts ...grpc.CallOption) (*emptypb.Empty, error) {
	return c.Next().Close(ctx, conn, opts...)
}

type vniKey struct {
	src string
	vni uint32
}

var allocationKey = metadata.NewKey[vniKey]("vxlan.vni")

type server struct {
	chain.ServerLink
	ip   net.IP
	port uint16

	mu    sync.Mutex
	inUse map[uint32]struct{}
}

// NewServer accepts VXLAN on tunnel address ip (port 0 means DefaultPort).
func NewServer(ip net.IP, port uint16) networkservice.NetworkServiceServer {
	if port == 0 {
		port = DefaultPort
	}
	return &server{ip: ip, port: port, inUse: make(map[uint32]struct{})}
}

func (s *server) Request(ctx context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	m := vxlan.ToMechanism(req.GetConnection().GetMechanism())
	if m == nil {
		return s.Next().Request(ctx, req)
	}
	if m.SrcIP() == nil {
		return nil, status.Error(codes.InvalidArgument, "vxlan: mechanism has no src_ip: the client forwarder must offer its tunnel address")
	}
	m.SetDstIP(s.ip)
	m.SetDstPort(s.port)

	prev, hadPrev := allocationKey.Load(ctx, metadata.Server)
	vni, err := s.allocate(m, prev, hadPrev)
	if err != nil {
		return nil, err
	}
	if err := m.SetVNI(vni); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	key := vniKey{src: m.SrcIP().String(), vni: vni}
	allocationKey.Store(ctx, metadata.Server, key)

	conn, err := s.Next().Request(ctx, req)
	if err != nil && !hadPrev {
		s.free(key)
		allocationKey.Delete(ctx, metadata.Server)
	}
	return conn, err
}

// allocate keeps a valid VNI the request or this connection already has and
// otherwise picks a random free one of the right parity.
func (s *server) allocate(m *vxlan.Mechanism, prev vniKey, hadPrev bool) (uint32, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	src := m.SrcIP().String()
	if hadPrev && prev.src == src && m.ValidVNIParity(prev.vni) {
		return prev.vni, nil
	}
	if hadPrev {
		delete(s.inUse, prev.vni)
	}
	if vni, err := m.VNI(); err == nil && vni != 0 && m.ValidVNIParity(vni) {
		// A peer re-requesting after our restart: take its VNI back if free.
		if _, taken := s.inUse[vni]; !taken {
			s.inUse[vni] = struct{}{}
			return vni, nil
		}
	}
	even := m.EvenVNI()
	for range 64 {
		vni := rand.Uint32N(vxlan.MaxVNI-1) + 1
		if (vni%2 == 0) != even {
			vni++
		}
		if vni == 0 || vni > vxlan.MaxVNI {
			continue
		}
		if _, taken := s.inUse[vni]; !taken {
			s.inUse[vni] = struct{}{}
			return vni, nil
		}
	}
	return 0, status.Error(codes.ResourceExhausted, fmt.Sprintf("vxlan: no free VNI for tunnels from %s", src))
}

func (s *server) free(k vniKey) {
	s.mu.Lock()
	delete(s.inUse, k.vni)
	s.mu.Unlock()
}

func (s *server) Close(ctx context.Context, conn *networkservice.Connection) (*emptypb.Empty, error) {
	if k, ok := allocationKey.Load(ctx, metadata.Server); ok {
		s.free(k)
		allocationKey.Delete(ctx, metadata.Server)
	}
	return s.Next().Close(ctx, conn)
}

var (
	_ networkservice.NetworkServiceClient = (*client)(nil)
	_ networkservice.NetworkServiceServer = (*server)(nil)
)
