// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package discover

import (
	"context"
	"errors"
	"io"
	"maps"
	"net/url"
	"slices"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/core/metadata"
	"github.com/nsmesh/nsmesh/sdk/tools/clienturlctx"
	"github.com/nsmesh/nsmesh/sdk/tools/grpcutils"
	"github.com/nsmesh/nsmesh/sdk/tools/log"
)

// maxReserve caps the time kept back from a watch for reporting NotFound.
const maxReserve = time.Second

// NewServer returns the discover element. Both registry clients are
// required; they are usually this node's nsmgr registry chains.
func NewServer(nsClient registry.NetworkServiceRegistryClient, nseClient registry.NetworkServiceEndpointRegistryClient, opts ...Option) (networkservice.NetworkServiceServer, error) {
	if nsClient == nil || nseClient == nil {
		return nil, errors.New("discover: both a NetworkService and a NetworkServiceEndpoint registry client are required")
	}
	o := options{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	return &server{ns: nsClient, nse: nseClient, o: o}, nil
}

type server struct {
	chain.ServerLink
	ns  registry.NetworkServiceRegistryClient
	nse registry.NetworkServiceEndpointRegistryClient
	o   options
}

func (s *server) Request(ctx context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	if clienturlctx.ClientURL(ctx) != nil {
		return s.Next().Request(ctx, req)
	}
	conn := req.GetConnection()
	if last, ok := reachedKey.Load(ctx, metadata.Server); ok && conn.GetNetworkServiceEndpointName() == "" &&
		conn.GetState() != networkservice.State_RESELECT_REQUESTED {
		// An established connection whose Request names no endpoint: its
		// client restarted and no hop before this one knew the path (an
		// nsmgr restarted too). It stays where it is.
		conn.NetworkServiceEndpointName = last.name
	}
	if name := conn.GetNetworkServiceEndpointName(); name != "" {
		u, err := s.endpointURL(ctx, name)
		if err != nil {
			last, ok := reachedKey.Load(ctx, metadata.Server)
			if !ok || last.name != name {
				return nil, err
			}
			// The registry lost the endpoint this connection runs to (it
			// restarted empty, the endpoint has not registered again yet) or
			// cannot be asked: refresh the connection where it is.
			log.FromContext(ctx, s.o.logger).WithField("element", "discover").
				Debugf("endpoint %s of %s is not listed by the registry (%v): using %s", name, conn.GetId(), err, last.u)
			u = last.u
		}
		out, err := s.Next().Request(clienturlctx.WithClientURL(ctx, u), req)
		if err != nil {
			return nil, err
		}
		reachedKey.Store(ctx, metadata.Server, reached{name: name, u: u})
		return out, nil
	}
	ns, err := FindService(ctx, s.ns, conn.GetNetworkService(), conn.GetPayload())
	if err != nil {
		return nil, err
	}
	nses, err := s.candidates(ctx, ns, conn.GetLabels())
	if err != nil {
		return nil, err
	}
	if ns.GetPayload() != "" {
		conn.Payload = ns.GetPayload()
	}
	out, err := s.Next().Request(WithCandidates(ctx, &Candidates{NetworkService: ns, Endpoints: nses}), req)
	if err != nil {
		return nil, err
	}
	for _, nse := range nses {
		if nse.GetName() == out.GetNetworkServiceEndpointName() {
			if u, err := EndpointURL(nse); err == nil {
				reachedKey.Store(ctx, metadata.Server, reached{name: nse.GetName(), u: u})
			}
		}
	}
	return out, nil
}

// reached is where a connection's endpoint was reached last.
type reached struct {
	name string
	u    *url.URL
}

var reachedKey = metadata.NewKey[reached]("discover.reached")

// endpointURL looks the endpoint called name up in the registry.
func (s *server) endpointURL(ctx context.Context, name string) (*url.URL, error) {
	nse, err := FindEndpoint(ctx, s.nse, name)
	if err != nil {
		return nil, err
	}
	return EndpointURL(nse)
}

func (s *server) Close(ctx context.Context, conn *networkservice.Connection) (*emptypb.Empty, error) {
	if name := conn.GetNetworkServiceEndpointName(); name != "" && clienturlctx.ClientURL(ctx) == nil {
		// Where this connection reached the endpoint is where its state
		// is; asking the registry would only add a call that hangs while
		// the registry is down.
		if last, ok := reachedKey.Load(ctx, metadata.Server); ok && last.name == name {
			ctx = clienturlctx.WithClientURL(ctx, last.u)
		} else if u, err := s.endpointURL(ctx, name); err == nil {
			ctx = clienturlctx.WithClientURL(ctx, u)
		} else {
			log.FromContext(ctx, s.o.logger).WithField("element", "discover").
				Warnf("closing %s without the endpoint's URL: %v", conn.GetId(), err)
		}
	}
	return s.Next().Close(ctx, conn)
}

// candidates returns the live endpoints of ns that match labels, waiting for
// one to register when there is none yet.
func (s *server) candidates(ctx context.Context, ns *registry.NetworkService, labels map[string]string) ([]*registry.NetworkServiceEndpoint, error) {
	query := &registry.NetworkServiceEndpoint{NetworkServiceNames: []string{ns.GetName()}}
	stream, err := s.nse.Find(ctx, &registry.NetworkServiceEndpointQuery{NetworkServiceEndpoint: query})
	if err != nil {
		return nil, findError(err, "find endpoints of network service %q", ns.GetName())
	}
	known := make(map[string]*registry.NetworkServiceEndpoint)
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, findError(err, "find endpoints of network service %q", ns.GetName())
		}
		known[resp.GetNetworkServiceEndpoint().GetName()] = resp.GetNetworkServiceEndpoint()
	}
	nses, err := s.match(ns, labels, known)
	if err != nil || len(nses) > 0 {
		return nses, err
	}

	// Nothing yet: watch until an endpoint that qualifies registers.
	waitCtx, cancel := waitContext(ctx)
	defer cancel()
	watch, err := s.nse.Find(waitCtx, &registry.NetworkServiceEndpointQuery{NetworkServiceEndpoint: query, Watch: true})
	if err != nil {
		return nil, findError(err, "watch endpoints of network service %q", ns.GetName())
	}
	known = make(map[string]*registry.NetworkServiceEndpoint)
	for {
		resp, err := watch.Recv()
		if err != nil {
			// The hops in between see the propagated deadline a little earlier
			// than we do and may cut the stream first: that ends the wait too.
			if c := status.Code(err); waitCtx.Err() == nil && c != codes.DeadlineExceeded && c != codes.Canceled {
				return nil, findError(err, "watch endpoints of network service %q", ns.GetName())
			}
			break
		}
		nse := resp.GetNetworkServiceEndpoint()
		if resp.GetDeleted() {
			delete(known, nse.GetName())
			continue
		}
		known[nse.GetName()] = nse
		if nses, err := s.match(ns, labels, known); err != nil || len(nses) > 0 {
			return nses, err
		}
	}
	if len(s.live(known)) == 0 {
		return nil, status.Errorf(codes.NotFound, "no endpoint for network service %q: none registered", ns.GetName())
	}
	return nil, status.Errorf(codes.NotFound, "no endpoint for network service %q: none matches labels %v", ns.GetName(), labels)
}

func (s *server) match(ns *registry.NetworkService, labels map[string]string, known map[string]*registry.NetworkServiceEndpoint) ([]*registry.NetworkServiceEndpoint, error) {
	nses, err := MatchEndpoints(labels, ns, s.live(known))
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "network service %q: %v", ns.GetName(), err)
	}
	return nses, nil
}

// live returns the unexpired endpoints of known, sorted by name so that
// selection does not depend on map order.
func (s *server) live(known map[string]*registry.NetworkServiceEndpoint) []*registry.NetworkServiceEndpoint {
	now := s.o.now()
	var out []*registry.NetworkServiceEndpoint
	for _, name := range slices.Sorted(maps.Keys(known)) {
		nse := known[name]
		if exp := nse.GetExpirationTime(); exp != nil && !exp.AsTime().After(now) {
			continue
		}
		out = append(out, nse)
	}
	return out
}

// waitContext bounds a registry watch so that the caller still has time to
// receive the NotFound status before its own deadline.
func waitContext(ctx context.Context) (context.Context, context.CancelFunc) {
	dl, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	reserve := time.Until(dl) / 5
	if reserve > maxReserve {
		reserve = maxReserve
	}
	return context.WithDeadline(ctx, dl.Add(-reserve))
}

// FindService returns the network service called name from the registry
// (codes.NotFound when it is not registered).
func FindService(ctx context.Context, c registry.NetworkServiceRegistryClient, name, payload string) (*registry.NetworkService, error) {
	stream, err := c.Find(ctx, &registry.NetworkServiceQuery{NetworkService: &registry.NetworkService{Name: name, Payload: payload}})
	if err != nil {
		return nil, findError(err, "find network service %q", name)
	}
	var found *registry.NetworkService
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, findError(err, "find network service %q", name)
		}
		if ns := resp.GetNetworkService(); ns.GetName() == name && found == nil {
			found = ns
		}
	}
	if found == nil {
		return nil, status.Errorf(codes.NotFound, "network service %q not found", name)
	}
	return found, nil
}

// FindEndpoint returns the endpoint called name from the registry
// (codes.NotFound when it is not registered).
func FindEndpoint(ctx context.Context, c registry.NetworkServiceEndpointRegistryClient, name string) (*registry.NetworkServiceEndpoint, error) {
	return findEndpoint(ctx, c, &registry.NetworkServiceEndpoint{Name: name})
}

func findEndpoint(ctx context.Context, c registry.NetworkServiceEndpointRegistryClient, query *registry.NetworkServiceEndpoint) (*registry.NetworkServiceEndpoint, error) {
	stream, err := c.Find(ctx, &registry.NetworkServiceEndpointQuery{NetworkServiceEndpoint: query})
	if err != nil {
		return nil, findError(err, "find network service endpoint %q", query.GetName())
	}
	var found *registry.NetworkServiceEndpoint
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, findError(err, "find network service endpoint %q", query.GetName())
		}
		if nse := resp.GetNetworkServiceEndpoint(); nse.GetName() == query.GetName() && found == nil {
			found = nse
		}
	}
	if found == nil {
		return nil, status.Errorf(codes.NotFound, "network service endpoint %q not found", query.GetName())
	}
	return found, nil
}

// EndpointURL parses the URL an endpoint registered (codes.FailedPrecondition
// when it is not a usable unix:// or tcp:// URL).
func EndpointURL(nse *registry.NetworkServiceEndpoint) (*url.URL, error) {
	u, err := grpcutils.ParseURL(nse.GetUrl())
	if err != nil {
		return nil, status.Errorf(codes.FailedPrecondition, "network service endpoint %q: %v", nse.GetName(), err)
	}
	return u, nil
}

// findError keeps the registry's status code and says what was looked for.
func findError(err error, format string, args ...any) error {
	st := status.Convert(err)
	return status.Errorf(st.Code(), "discover: "+format+": %s", append(args, st.Message())...)
}

var _ networkservice.NetworkServiceServer = (*server)(nil)
