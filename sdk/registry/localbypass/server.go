// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package localbypass

import (
	"context"
	"fmt"
	"net/url"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/registry/internal/streams"
)

// NewServer returns localbypass for the nsmgr reachable at nsmgrURL.
func NewServer(nsmgrURL *url.URL) (registry.NetworkServiceEndpointRegistryServer, error) {
	if nsmgrURL == nil || nsmgrURL.String() == "" {
		return nil, fmt.Errorf("localbypass: the nsmgr URL is empty")
	}
	return &server{url: nsmgrURL.String(), real: make(map[string]string)}, nil
}

type server struct {
	chain.NSEServerLink
	url string

	mu   sync.RWMutex
	real map[string]string // endpoint name → real URL
}

func clone(nse *registry.NetworkServiceEndpoint) *registry.NetworkServiceEndpoint {
	return proto.Clone(nse).(*registry.NetworkServiceEndpoint)
}

func (s *server) Register(ctx context.Context, nse *registry.NetworkServiceEndpoint) (*registry.NetworkServiceEndpoint, error) {
	realURL := nse.GetUrl()
	nse = clone(nse)
	nse.Url = s.url
	// Known before the registry answers: watchers get the registration event
	// while Register is still in flight and must see the real URL, not an
	// unknown entry under the nsmgr's URL.
	s.mu.Lock()
	prev, had := s.real[nse.GetName()]
	s.real[nse.GetName()] = realURL
	s.mu.Unlock()
	resp, err := s.Next().Register(ctx, nse)
	if err != nil {
		s.mu.Lock()
		if had {
			s.real[nse.GetName()] = prev
		} else {
			delete(s.real, nse.GetName())
		}
		s.mu.Unlock()
		return nil, err
	}
	resp = clone(resp)
	resp.Url = realURL
	return resp, nil
}

func (s *server) Unregister(ctx context.Context, nse *registry.NetworkServiceEndpoint) (*emptypb.Empty, error) {
	nse = clone(nse)
	nse.Url = s.url
	resp, err := s.Next().Unregister(ctx, nse)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	delete(s.real, nse.GetName())
	s.mu.Unlock()
	return resp, nil
}

func (s *server) Find(q *registry.NetworkServiceEndpointQuery, srv grpc.ServerStreamingServer[registry.NetworkServiceEndpointResponse]) error {
	return s.Next().Find(q, &streams.ServerFilter[registry.NetworkServiceEndpointResponse]{
		ServerStreamingServer: srv,
		Fn:                    s.translate,
	})
}

// translate swaps in the real URL of a local endpoint and drops entries that
// point at this nsmgr without being known here.
func (s *server) translate(resp *registry.NetworkServiceEndpointResponse) *registry.NetworkServiceEndpointResponse {
	nse := resp.GetNetworkServiceEndpoint()
	s.mu.RLock()
	realURL, local := s.real[nse.GetName()]
	s.mu.RUnlock()
	switch {
	case local && nse.GetUrl() == s.url:
		resp = proto.Clone(resp).(*registry.NetworkServiceEndpointResponse)
		resp.NetworkServiceEndpoint.Url = realURL
		return resp
	case nse.GetUrl() == s.url && !resp.GetDeleted():
		return nil
	}
	return resp
}

var _ registry.NetworkServiceEndpointRegistryServer = (*server)(nil)
