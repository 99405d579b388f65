// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package discoverforwarder

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/core/metadata"
	"github.com/nsmesh/nsmesh/sdk/networkservice/discover"
	"github.com/nsmesh/nsmesh/sdk/tools/clienturlctx"
	"github.com/nsmesh/nsmesh/sdk/tools/log"
)

// DefaultForwarderServiceName is the service forwarders register for.
const DefaultForwarderServiceName = "forwarder"

// Option configures the element.
type Option func(*options)

type options struct {
	serviceName string
	nsmgrURL    string
	logger      logrus.FieldLogger
	now         func() time.Time
}

// WithForwarderServiceName sets the service name forwarders register for
// (NSM_FORWARDER_NETWORK_SERVICE_NAME).
func WithForwarderServiceName(name string) Option {
	return func(o *options) { o.serviceName = name }
}

// WithNSMgrURL restricts forwarders to those registered through the nsmgr
// at u.
func WithNSMgrURL(u string) Option {
	return func(o *options) { o.nsmgrURL = u }
}

// WithLogger sets the logger used when the request context carries none.
func WithLogger(l logrus.FieldLogger) Option {
	return func(o *options) { o.logger = l }
}

// WithNow sets the clock that decides whether a registration has expired.
func WithNow(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

var (
	stickyKey = metadata.NewKey[string]("discoverforwarder.sticky")
	// stickyURLKey is where the sticky forwarder was reached, for when the
	// registry no longer lists it.
	stickyURLKey = metadata.NewKey[*url.URL]("discoverforwarder.url")
)

// Forwarder returns the name of the forwarder the connection being handled
// sticks to.
func Forwarder(ctx context.Context) (string, bool) {
	return stickyKey.Load(ctx, metadata.Server)
}

// NewServer returns the element; both registry clients are required.
func NewServer(nsClient registry.NetworkServiceRegistryClient, nseClient registry.NetworkServiceEndpointRegistryClient, opts ...Option) (networkservice.NetworkServiceServer, error) {
	if nsClient == nil || nseClient == nil {
		return nil, errors.New("discoverforwarder: both a NetworkService and a NetworkServiceEndpoint registry client are required")
	}
	o := options{serviceName: DefaultForwarderServiceName, now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	if o.serviceName == "" {
		return nil, errors.New("discoverforwarder: the forwarder service name is empty")
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
	conn := req.GetConnection()
	reselect := conn.GetState() == networkservice.State_RESELECT_REQUESTED
	if reselect {
		stickyKey.Delete(ctx, metadata.Server)
		stickyURLKey.Delete(ctx, metadata.Server)
	}
	sticky, _ := stickyKey.Load(ctx, metadata.Server)
	logger := log.FromContext(ctx, s.o.logger).WithField("element", "discoverforwarder")

	ns, nsErr := discover.FindService(ctx, s.ns, conn.GetNetworkService(), conn.GetPayload())
	if status.Code(nsErr) == codes.NotFound {
		// The service is only needed for its matches. Without it (a registry
		// that restarted empty, a service registered elsewhere) forwarders are
		// chosen by the default labels, and the forwarder's own discovery
		// tells a client that the service does not exist.
		ns, nsErr = &registry.NetworkService{Name: conn.GetNetworkService()}, nil
	}
	all, err := s.find(ctx, sticky)
	if last, ok := stickyURLKey.Load(ctx, metadata.Server); ok && sticky != "" && (nsErr != nil || err != nil || len(all) == 0) {
		// The registry lost the forwarder this connection runs through (it
		// restarted empty, the forwarder has not registered again yet) or
		// cannot be asked: the connection must not suffer, refresh it where
		// it is.
		logger.Debugf("forwarder %s of %s is not listed by the registry (%v): using %s", sticky, conn.GetId(), errors.Join(nsErr, err), last)
		out, err := s.Next().Request(clienturlctx.WithClientURL(ctx, last), req.Clone())
		if err != nil {
			st := status.Convert(err)
			return nil, status.Errorf(codes.Unavailable, "forwarder %q is not available: %s", sticky, st.Message())
		}
		return out, nil
	}
	if nsErr != nil {
		return nil, nsErr
	}
	if err != nil {
		return nil, err
	}
	cands, err := MatchForwarders(conn.GetLabels(), ns, s.o.serviceName, all)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "discoverforwarder: network service %q: %v", ns.GetName(), err)
	}
	if len(cands) == 0 {
		if sticky != "" {
			return nil, status.Errorf(codes.Unavailable, "forwarder %q is not available", sticky)
		}
		return nil, status.Errorf(codes.NotFound, "no forwarder candidates found for %q", ns.GetName())
	}
	if sticky == "" && !reselect {
		if next := conn.GetNextPathSegment().GetName(); next != "" {
			for i, c := range cands {
				if c.GetName() == next {
					cands = append(append([]*registry.NetworkServiceEndpoint{c}, cands[:i]...), cands[i+1:]...)
					break
				}
			}
		}
	}

	var tried []string
	var codesSeen []codes.Code
	for _, fwd := range cands {
		if ctx.Err() != nil {
			break
		}
		u, err := discover.EndpointURL(fwd)
		if err == nil {
			var out *networkservice.Connection
			out, err = s.Next().Request(clienturlctx.WithClientURL(ctx, u), req.Clone())
			if err == nil {
				stickyKey.Store(ctx, metadata.Server, fwd.GetName())
				stickyURLKey.Store(ctx, metadata.Server, u)
				return out, nil
			}
		}
		logger.Warnf("forwarder %s failed for %s: %v", fwd.GetName(), conn.GetId(), err)
		tried = append(tried, fmt.Sprintf("%s: %s", fwd.GetName(), status.Convert(err).Message()))
		codesSeen = append(codesSeen, status.Code(err))
	}
	code := failureCode(codesSeen)
	if err := ctx.Err(); err != nil {
		code = status.FromContextError(err).Code()
	}
	return nil, status.Errorf(code, "no forwarder could serve network service %q; tried %s", ns.GetName(), strings.Join(tried, "; "))
}

func (s *server) Close(ctx context.Context, conn *networkservice.Connection) (*emptypb.Empty, error) {
	name, _ := stickyKey.Load(ctx, metadata.Server)
	if name == "" {
		name = conn.GetNextPathSegment().GetName()
	}
	if name != "" && clienturlctx.ClientURL(ctx) == nil {
		fwds, err := s.find(ctx, name)
		if err == nil && len(fwds) == 0 {
			err = fmt.Errorf("forwarder %q is not registered", name)
		}
		if err == nil {
			u, uerr := discover.EndpointURL(fwds[0])
			if err = uerr; err == nil {
				ctx = clienturlctx.WithClientURL(ctx, u)
			}
		}
		if last, ok := stickyURLKey.Load(ctx, metadata.Server); err != nil && ok {
			ctx, err = clienturlctx.WithClientURL(ctx, last), nil
		}
		if err != nil {
			log.FromContext(ctx, s.o.logger).WithField("element", "discoverforwarder").
				Warnf("closing %s without the forwarder's URL: %v", conn.GetId(), err)
		}
	}
	return s.Next().Close(ctx, conn)
}

// find lists the live forwarders registered through this nsmgr, only the one
// called name when name is set.
func (s *server) find(ctx context.Context, name string) ([]*registry.NetworkServiceEndpoint, error) {
	stream, err := s.nse.Find(ctx, &registry.NetworkServiceEndpointQuery{NetworkServiceEndpoint: &registry.NetworkServiceEndpoint{
		Name:                name,
		NetworkServiceNames: []string{s.o.serviceName},
		Url:                 s.o.nsmgrURL,
	}})
	if err != nil {
		st := status.Convert(err)
		return nil, status.Errorf(st.Code(), "discoverforwarder: find forwarders: %s", st.Message())
	}
	now := s.o.now()
	var out []*registry.NetworkServiceEndpoint
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			st := status.Convert(err)
			return nil, status.Errorf(st.Code(), "discoverforwarder: find forwarders: %s", st.Message())
		}
		fwd := resp.GetNetworkServiceEndpoint()
		if name != "" && fwd.GetName() != name {
			continue
		}
		if exp := fwd.GetExpirationTime(); exp != nil && !exp.AsTime().After(now) {
			continue
		}
		out = append(out, fwd)
	}
}

// defaultRequired is what a match without metadata asks of a forwarder.
var defaultRequired = map[string]string{"p2p": "true"}

// MatchForwarders returns the forwarders that may carry a connection with
// labels to ns; serviceName is the key of the forwarders' own labels.
func MatchForwarders(labels map[string]string, ns *registry.NetworkService, serviceName string, fwds []*registry.NetworkServiceEndpoint) ([]*registry.NetworkServiceEndpoint, error) {
	if len(ns.GetMatches()) == 0 {
		return fwds, nil
	}
	for _, m := range ns.GetMatches() {
		ok, err := discover.MatchSelector(m.GetSourceSelector(), labels, labels)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		required := m.GetMetadata().GetLabels()
		if len(required) == 0 {
			required = defaultRequired
		}
		var out []*registry.NetworkServiceEndpoint
		for _, fwd := range fwds {
			own, present := fwd.GetNetworkServiceLabels()[serviceName]
			if !present {
				continue
			}
			ok, err := discover.MatchSelector(required, own.GetLabels(), labels)
			if err != nil {
				return nil, err
			}
			if ok {
				out = append(out, fwd)
			}
		}
		if m.GetFallthrough() && len(out) == 0 {
			continue
		}
		return out, nil
	}
	return nil, nil
}

var _ networkservice.NetworkServiceServer = (*server)(nil)

// failureCode keeps the verdict the forwarders agree on about the request
// itself (no such service, bad labels, denied ...) so that the client can act
// on it; anything else means no forwarder could do the job: Unavailable.
func failureCode(seen []codes.Code) codes.Code {
	if len(seen) == 0 {
		return codes.Unavailable
	}
	for _, c := range seen[1:] {
		if c != seen[0] {
			return codes.Unavailable
		}
	}
	switch seen[0] {
	case codes.NotFound, codes.InvalidArgument, codes.PermissionDenied, codes.Unauthenticated, codes.ResourceExhausted, codes.FailedPrecondition:
		return seen[0]
	}
	return codes.Unavailable
}
