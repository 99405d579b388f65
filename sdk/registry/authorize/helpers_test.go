// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package authorize_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/registry/authorize"
	"github.com/nsmesh/nsmesh/sdk/registry/begin"
	"github.com/nsmesh/nsmesh/sdk/registry/defaults"
	"github.com/nsmesh/nsmesh/sdk/registry/expire"
	"github.com/nsmesh/nsmesh/sdk/registry/grpcmetadata"
	"github.com/nsmesh/nsmesh/sdk/registry/internal/regtest"
	"github.com/nsmesh/nsmesh/sdk/registry/memory"
	"github.com/nsmesh/nsmesh/sdk/registry/updatepath"
	"github.com/nsmesh/nsmesh/sdk/token"
	"github.com/nsmesh/nsmesh/sdk/tools/log"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const td = "spiffe://test.nsmesh/"

func generator(t testing.TB, name string) token.Generator {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	g, err := token.NewJWTGenerator(key, td+name, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// reg is a registry like chains/memory with the authorize elements given,
// served over gRPC on a unix socket.
type reg struct {
	t   *testing.T
	ctx context.Context
	url string
}

func newReg(t *testing.T, ctx context.Context, expiration time.Duration, ns registry.NetworkServiceRegistryServer, nse registry.NetworkServiceEndpointRegistryServer) *reg {
	t.Helper()
	exp, err := expire.NewServer(ctx, expire.WithDefaultExpiration(expiration))
	if err != nil {
		t.Fatal(err)
	}
	gen := generator(t, "registry")
	u := regtest.SocketURL(t, "reg.sock")
	regtest.Serve(t, u,
		chain.NewNSServer(grpcmetadata.NewNSServer(), updatepath.NewNSServer(gen), ns, defaults.NewPayloadServer(""), memory.NewNSServer(ctx)),
		chain.NewNSEServer(grpcmetadata.NewNSEServer(), updatepath.NewNSEServer(gen), nse, begin.NewNSEServer(), exp, memory.NewNSEServer(ctx)))
	return &reg{t: t, ctx: ctx, url: u.String()}
}

// as returns gRPC clients that call with name's tokens (none for "").
func (r *reg) as(name string) (registry.NetworkServiceRegistryClient, registry.NetworkServiceEndpointRegistryClient) {
	r.t.Helper()
	opts := []grpc.DialOption{regtest.Insecure()}
	if name != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(token.NewInsecurePerRPCCredentials(generator(r.t, name))))
	}
	cc, err := grpc.NewClient(r.url, opts...)
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { _ = cc.Close() })
	return registry.NewNetworkServiceRegistryClient(cc), registry.NewNetworkServiceEndpointRegistryClient(cc)
}

// nses returns name → URL of every registered endpoint.
func (r *reg) nses() map[string]string {
	r.t.Helper()
	_, c := r.as("")
	s, err := c.Find(r.ctx, &registry.NetworkServiceEndpointQuery{NetworkServiceEndpoint: &registry.NetworkServiceEndpoint{}})
	if err != nil {
		r.t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range regtest.All(r.t, s) {
		out[e.GetNetworkServiceEndpoint().GetName()] = e.GetNetworkServiceEndpoint().GetUrl()
	}
	return out
}

// nss returns name → payload of every registered network service.
func (r *reg) nss() map[string]string {
	r.t.Helper()
	c, _ := r.as("")
	s, err := c.Find(r.ctx, &registry.NetworkServiceQuery{NetworkService: &registry.NetworkService{}})
	if err != nil {
		r.t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range regtest.All(r.t, s) {
		out[e.GetNetworkService().GetName()] = e.GetNetworkService().GetPayload()
	}
	return out
}

func quiet(opts ...authorize.Option) []authorize.Option {
	return append([]authorize.Option{authorize.WithLogger(log.Discard())}, opts...)
}

// pathOf returns the registry path at the first hop for a call by id: the
// caller's token at 0, the hop's own (empty) at 1.
func pathOf(t testing.TB, id string) *grpcmetadata.Path {
	t.Helper()
	tok, _, err := generator(t, id).Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &grpcmetadata.Path{Index: 1, PathSegments: []*grpcmetadata.PathSegment{{Token: tok}, {}}}
}

// stampExpiry sets expiration_time to now + d, as expire would.
type stampExpiry struct {
	chain.NSEServerLink
	now func() time.Time
	d   time.Duration
}

func (s *stampExpiry) Register(ctx context.Context, nse *registry.NetworkServiceEndpoint) (*registry.NetworkServiceEndpoint, error) {
	nse = proto.Clone(nse).(*registry.NetworkServiceEndpoint)
	nse.ExpirationTime = timestamppb.New(s.now().Add(s.d))
	return s.Next().Register(ctx, nse)
}

func (s *stampExpiry) Find(q *registry.NetworkServiceEndpointQuery, srv grpc.ServerStreamingServer[registry.NetworkServiceEndpointResponse]) error {
	return s.Next().Find(q, srv)
}

func (s *stampExpiry) Unregister(ctx context.Context, nse *registry.NetworkServiceEndpoint) (*emptypb.Empty, error) {
	return s.Next().Unregister(ctx, nse)
}

// slow delays Register by d.
type slow struct {
	chain.NSEServerLink
	d time.Duration
}

func (s *slow) Register(ctx context.Context, nse *registry.NetworkServiceEndpoint) (*registry.NetworkServiceEndpoint, error) {
	time.Sleep(s.d)
	return s.Next().Register(ctx, nse)
}

func (s *slow) Find(q *registry.NetworkServiceEndpointQuery, srv grpc.ServerStreamingServer[registry.NetworkServiceEndpointResponse]) error {
	return s.Next().Find(q, srv)
}

func (s *slow) Unregister(ctx context.Context, nse *registry.NetworkServiceEndpoint) (*emptypb.Empty, error) {
	return s.Next().Unregister(ctx, nse)
}
