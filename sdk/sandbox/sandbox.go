// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package sandbox

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/chains/client"
	"github.com/nsmesh/nsmesh/sdk/chains/endpoint"
	"github.com/nsmesh/nsmesh/sdk/chains/forwarder"
	"github.com/nsmesh/nsmesh/sdk/chains/nsmgr"
	"github.com/nsmesh/nsmesh/sdk/networkservice/mechanisms"
	"github.com/nsmesh/nsmesh/sdk/networkservice/mechanisms/kernel"
	"github.com/nsmesh/nsmesh/sdk/networkservice/mechanisms/vxlan"
	regclient "github.com/nsmesh/nsmesh/sdk/registry/chains/client"
	regmemory "github.com/nsmesh/nsmesh/sdk/registry/chains/memory"
	"github.com/nsmesh/nsmesh/sdk/tools/fakes"
	"github.com/nsmesh/nsmesh/sdk/tools/log"
	"github.com/nsmesh/nsmesh/sdk/tools/spiffe/devca"
)

// TB is the part of testing.TB the sandbox uses.
type TB interface {
	Helper()
	Cleanup(func())
	Fatalf(format string, args ...any)
}

// Option configures New.
type Option func(*options)

type options struct {
	nodes             int
	forwardersPerNode int
	tokenLifetime     time.Duration
	regExpiration     time.Duration
	logger            logrus.FieldLogger
	mtls              bool
	svidLifetime      time.Duration
}

// WithNodes sets the number of nodes (default 1).
func WithNodes(n int) Option { return func(o *options) { o.nodes = n } }

// WithForwardersPerNode sets the forwarders each node starts with (default 1).
func WithForwardersPerNode(n int) Option { return func(o *options) { o.forwardersPerNode = n } }

// WithTokenLifetime sets every component's token lifetime (default 10m).
func WithTokenLifetime(d time.Duration) Option { return func(o *options) { o.tokenLifetime = d } }

// WithRegistryExpiration sets the registry's default registration expiry (default 1m).
func WithRegistryExpiration(d time.Duration) Option { return func(o *options) { o.regExpiration = d } }

// WithLogger logs all components to l.
func WithLogger(l logrus.FieldLogger) Option { return func(o *options) { o.logger = l } }

// Domain is one running mesh.
type Domain struct {
	ctx      context.Context
	t        TB
	o        options
	dir      string
	Registry *Registry
	Nodes    []*Node

	endpoints int
	ca        *devca.CA // nil without WithMTLS
	idents    idents
}

// New starts a registry and the nodes; everything stops at test cleanup.
func New(ctx context.Context, t TB, opts ...Option) *Domain {
	t.Helper()
	o := options{nodes: 1, forwardersPerNode: 1, tokenLifetime: 10 * time.Minute, regExpiration: time.Minute, logger: log.Discard(), svidLifetime: DefaultSVIDLifetime}
	for _, opt := range opts {
		opt(&o)
	}
	// Unix socket paths must stay short (108 bytes), so not t.TempDir().
	dir, err := os.MkdirTemp("", "nsm-sb-")
	if err != nil {
		t.Fatalf("sandbox: %v", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	d := &Domain{ctx: ctx, t: t, o: o, dir: dir}
	if o.mtls {
		if d.ca, err = devca.New(spiffeid.RequireTrustDomainFromString(TrustDomain), 24*time.Hour); err != nil {
			cancel()
			t.Fatalf("sandbox: %v", err)
		}
	}
	t.Cleanup(func() {
		cancel()
		d.stopAll()
		_ = os.RemoveAll(dir)
	})
	if d.Registry, err = d.newRegistry(); err != nil {
		t.Fatalf("%v", err)
	}
	for i := range o.nodes {
		n, err := d.newNode(fmt.Sprintf("node-%d", i+1))
		if err != nil {
			t.Fatalf("%v", err)
		}
		d.Nodes = append(d.Nodes, n)
	}
	return d
}

func (d *Domain) stopAll() {
	for _, n := range d.Nodes {
		for _, e := range n.Endpoints {
			e.Stop()
		}
		for _, f := range n.Forwarders {
			f.Stop()
		}
		n.NSMgr.Stop()
	}
	d.Registry.Stop()
}

func (d *Domain) unixURL(name string) *url.URL {
	return &url.URL{Scheme: "unix", Path: filepath.Join(d.dir, name+".sock")}
}

func loopbackURL() *url.URL { return &url.URL{Scheme: "tcp", Host: "127.0.0.1:0"} }

// Registry is the domain's registry.
type Registry struct {
	process
	id *identity
}

// URL returns where the registry listens.
func (r *Registry) URL() *url.URL { return r.urls[0] }

// Stop kills the registry.
func (r *Registry) Stop() { r.stop() }

// Restart starts the registry again, empty, on the same address.
func (r *Registry) Restart(ctx context.Context) error { r.stop(); return r.start(ctx) }

func (d *Domain) newRegistry() (*Registry, error) {
	id, err := d.newIdentity("registry")
	if err != nil {
		return nil, err
	}
	r := &Registry{id: id}
	r.name = "registry"
	r.serverOpts = id.serverOptions()
	r.urls = []*url.URL{loopbackURL()}
	r.build = func(ctx context.Context, s *grpc.Server) error {
		servers, err := regmemory.NewServer(ctx,
			regmemory.WithTokenGenerator(id.gen),
			regmemory.WithDefaultExpiration(d.o.regExpiration),
			regmemory.WithLogger(d.o.logger.WithField("component", "registry")))
		if err != nil {
			return err
		}
		registry.RegisterNetworkServiceRegistryServer(s, servers.NS)
		registry.RegisterNetworkServiceEndpointRegistryServer(s, servers.NSE)
		return nil
	}
	return r, r.start(d.ctx)
}

// Node is an nsmgr with its forwarders, endpoints and clients.
type Node struct {
	d          *Domain
	Name       string
	NSMgr      *NSMgr
	Forwarders []*Forwarder
	Endpoints  []*Endpoint
	tunnelIP   net.IP
}

// NSMgr is a node's network service manager.
type NSMgr struct {
	process
	id *identity
	// Current is the running instance (replaced on Restart).
	Current *nsmgr.NSMgr
}

// UnixURL is where local clients, endpoints and forwarders reach the nsmgr.
func (m *NSMgr) UnixURL() *url.URL { return m.urls[0] }

// TCPURL is where other nodes reach the nsmgr.
func (m *NSMgr) TCPURL() *url.URL { return m.urls[1] }

// Stop kills the nsmgr.
func (m *NSMgr) Stop() { m.stop() }

// Restart starts a fresh nsmgr on the same addresses.
func (m *NSMgr) Restart(ctx context.Context) error { m.stop(); return m.start(ctx) }

func (d *Domain) newNode(name string) (*Node, error) {
	n := &Node{d: d, Name: name, tunnelIP: net.IPv4(127, 0, 0, byte(len(d.Nodes)+2))}
	mgrName := "nsmgr-" + name
	id, err := d.newIdentity(mgrName)
	if err != nil {
		return nil, err
	}
	m := &NSMgr{id: id}
	m.name = mgrName
	m.serverOpts = id.serverOptions()
	m.urls = []*url.URL{d.unixURL(mgrName), loopbackURL()}
	// Bind the TCP port now so the nsmgr knows its own URL before building.
	l, err := listenRetry(d.ctx, m.urls[1])
	if err != nil {
		return nil, err
	}
	m.urls[1] = &url.URL{Scheme: "tcp", Host: l.Addr().String()}
	_ = l.Close()
	m.build = func(ctx context.Context, s *grpc.Server) error {
		mgr, err := nsmgr.New(ctx, mgrName, id.gen,
			nsmgr.WithURL(m.TCPURL()),
			nsmgr.WithRegistryURL(d.Registry.URL()),
			nsmgr.WithDialOptions(id.dialOptions()...),
			nsmgr.WithDialTimeout(time.Second),
			nsmgr.WithLogger(d.o.logger.WithField("component", mgrName)))
		if err != nil {
			return err
		}
		mgr.Register(s)
		m.Current = mgr
		return nil
	}
	n.NSMgr = m
	if err := m.start(d.ctx); err != nil {
		return nil, err
	}
	for i := range d.o.forwardersPerNode {
		if _, err := n.NewForwarder(d.ctx, fmt.Sprintf("fwd-%s-%d", name, i+1), nil); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// Forwarder is a forwarder with a fake data plane.
type Forwarder struct {
	process
	id        *identity
	Dataplane *fakes.Dataplane
	Current   *endpoint.Endpoint
	labels    map[string]string
}

// Name returns the forwarder's name.
func (f *Forwarder) Name() string { return f.name }

// Stop kills the forwarder.
func (f *Forwarder) Stop() { f.stop() }

// Restart starts a fresh forwarder (same data plane) on the same address.
func (f *Forwarder) Restart(ctx context.Context) error { f.stop(); return f.start(ctx) }

// NewForwarder starts a forwarder on the node and registers it with labels
// (p2p=true when nil).
func (n *Node) NewForwarder(ctx context.Context, name string, labels map[string]string) (*Forwarder, error) {
	d := n.d
	if labels == nil {
		labels = map[string]string{"p2p": "true"}
	}
	id, err := d.newIdentity(name)
	if err != nil {
		return nil, err
	}
	f := &Forwarder{id: id, Dataplane: fakes.NewDataplane(), labels: labels}
	f.name = name
	f.serverOpts = id.serverOptions()
	f.urls = []*url.URL{d.unixURL(name)}
	logger := d.o.logger.WithField("component", name)
	f.build = func(ctx context.Context, s *grpc.Server) error {
		offerKernel, err := kernel.NewClient()
		if err != nil {
			return err
		}
		fwd, err := forwarder.New(ctx, name, id.gen,
			forwarder.WithNSMgrURL(n.NSMgr.UnixURL()),
			forwarder.WithDataplane(f.Dataplane),
			forwarder.WithMechanisms(mechanisms.NewServer(map[string]networkservice.NetworkServiceServer{
				"KERNEL": nil,
				"VXLAN":  vxlan.NewServer(n.tunnelIP, 0),
			})),
			forwarder.WithLocalMechanisms(offerKernel),
			forwarder.WithRemoteMechanisms(vxlan.NewClient(n.tunnelIP, 0)),
			forwarder.WithDialOptions(id.dialOptions()...),
			forwarder.WithDialTimeout(time.Second),
			forwarder.WithLogger(logger))
		if err != nil {
			return err
		}
		fwd.Register(s)
		f.Current = fwd
		return register(ctx, n, id, &registry.NetworkServiceEndpoint{
			Name:                 name,
			NetworkServiceNames:  []string{nsmgr.DefaultForwarderServiceName},
			NetworkServiceLabels: map[string]*registry.NetworkServiceLabels{nsmgr.DefaultForwarderServiceName: {Labels: f.labels}},
			Url:                  f.urls[0].String(),
		}, logger)
	}
	if err := f.start(ctx); err != nil {
		return nil, err
	}
	n.Forwarders = append(n.Forwarders, f)
	return f, nil
}

// register keeps nse registered at the node's nsmgr until ctx ends.
func register(ctx context.Context, n *Node, id *identity, nse *registry.NetworkServiceEndpoint, logger logrus.FieldLogger) error {
	c, err := regclient.NewNSEClient(ctx,
		regclient.WithURL(n.NSMgr.UnixURL()),
		regclient.WithDialOptions(id.dialOptions()...),
		regclient.WithLogger(logger))
	if err != nil {
		return err
	}
	// Wait for the first registration so that a test can use the component
	// as soon as it is started, but not forever: when the nsmgr is down (a
	// restart scenario) the client chain keeps retrying in the background.
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := c.Register(ctx, nse); err != nil && ctx.Err() == nil {
			logger.WithError(err).Error("sandbox: registration failed")
		}
	}()
	select {
	case <-done:
	case <-time.After(registrationWait):
	case <-ctx.Done():
	}
	return nil
}

// registrationWait bounds how long starting a component waits for its
// registration.
const registrationWait = 5 * time.Second

// RegisterService registers ns through the node's nsmgr.
func (n *Node) RegisterService(ctx context.Context, ns *registry.NetworkService) error {
	id, err := n.d.newIdentity("ns-admin")
	if err != nil {
		return err
	}
	c, err := regclient.NewNSClient(ctx,
		regclient.WithURL(n.NSMgr.UnixURL()),
		regclient.WithDialOptions(id.dialOptions()...),
		regclient.WithoutHeal())
	if err != nil {
		return err
	}
	_, err = c.Register(ctx, ns)
	return err
}

// NewClient returns a network service client of the node, named name.
func (n *Node) NewClient(ctx context.Context, name string, opts ...client.Option) (networkservice.NetworkServiceClient, error) {
	id, err := n.d.newIdentity(name)
	if err != nil {
		return nil, err
	}
	offer, err := kernel.NewClient()
	if err != nil {
		return nil, err
	}
	base := []client.Option{
		client.WithURL(n.NSMgr.UnixURL()),
		client.WithDialOptions(id.dialOptions()...),
		client.WithDialTimeout(time.Second),
		client.WithAdditionalFunctionality(offer),
		client.WithLogger(n.d.o.logger.WithField("component", name)),
	}
	return client.New(ctx, name, id.gen, append(base, opts...)...)
}
