// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package kernel

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"net/url"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	kernelmech "github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/kernel"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/core/metadata"
)

// DefaultNetNSURL names the network namespace of the thread handling the
// call, which is the process's unless it was moved on purpose.
const DefaultNetNSURL = "file:///proc/thread-self/ns/net"

// prefixLen is how much of the service name a generated interface name keeps.
const prefixLen = 10

// Option configures the kernel client or server.
type Option func(*options)

type options struct {
	ifName   string
	netnsURL string
}

// WithInterfaceName fixes the interface name instead of generating one.
func WithInterfaceName(name string) Option {
	return func(o *options) { o.ifName = name }
}

// WithNetNSURL sets the netns URL to announce (default DefaultNetNSURL), a
// file:// URL such as file:///var/run/netns/blue.
func WithNetNSURL(u string) Option {
	return func(o *options) { o.netnsURL = u }
}

func build(opts []Option) (options, error) {
	o := options{netnsURL: DefaultNetNSURL}
	for _, opt := range opts {
		opt(&o)
	}
	if o.ifName != "" {
		if err := kernelmech.ValidateInterfaceName(o.ifName); err != nil {
			return o, err
		}
	}
	u, err := url.Parse(o.netnsURL)
	if err != nil || u.Scheme != kernelmech.NetNSURLScheme || u.Path == "" {
		return o, fmt.Errorf("kernel: netns URL %q: want file:///path/to/netns", o.netnsURL)
	}
	return o, nil
}

var nameKey = metadata.NewKey[string]("kernel.ifname")

// name returns the interface name for the connection, stable across its
// refreshes when the chain has begin.
func (o *options) name(ctx context.Context, side metadata.Side, conn *networkservice.Connection) string {
	if o.ifName != "" {
		return o.ifName
	}
	if n, ok := nameKey.Load(ctx, side); ok {
		return n
	}
	n := InterfaceName(conn.GetNetworkService())
	if id := conn.GetId(); id != "" {
		// Derived from the connection id, which survives restarts of this hop,
		// so a restarted forwarder asks for the interface it made before and
		// adopts it instead of adding a second one.
		n = InterfaceNameFor(conn.GetNetworkService(), id)
	}
	nameKey.Store(ctx, side, n)
	return n
}

// InterfaceNameFor returns the interface name of connection id for service
// ns: like InterfaceName, but the same for the same id.
func InterfaceNameFor(ns, id string) string {
	sum := sha256.Sum256([]byte(id))
	return interfaceName(ns, sum[:])
}

// InterfaceName returns a fresh interface name for service ns:
// "<up to 10 chars of ns>-<random>", 15 characters in all. Characters Linux
// does not allow in names are replaced.
func InterfaceName(ns string) string {
	random := make([]byte, kernelmech.LinuxIfMaxLength)
	_, _ = rand.Read(random)
	return interfaceName(ns, random)
}

// interfaceName builds "<prefix>-<suffix>" from ns and the bytes of seed.
func interfaceName(ns string, seed []byte) string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	prefix := strings.Map(func(r rune) rune {
		if r == '/' || r == ':' || r == '@' || r > 0x7e || r <= ' ' {
			return '_'
		}
		return r
	}, ns)
	if len(prefix) > prefixLen {
		prefix = prefix[:prefixLen]
	}
	if prefix == "" {
		prefix = "nsm"
	}
	suffix := make([]byte, kernelmech.LinuxIfMaxLength-len(prefix)-1)
	for i := range suffix {
		suffix[i] = alphabet[int(seed[i%len(seed)])%len(alphabet)]
	}
	return prefix + "-" + string(suffix)
}

// NewClient returns the NSC-side kernel element.
func NewClient(opts ...Option) (networkservice.NetworkServiceClient, error) {
	o, err := build(opts)
	if err != nil {
		return nil, err
	}
	return &client{o: o}, nil
}

type client struct {
	chain.ClientLink
	o options
}

func (c *client) Request(ctx context.Context, req *networkservice.NetworkServiceRequest, opts ...grpc.CallOption) (*networkservice.Connection, error) {
	conn := req.GetConnection()
	fill := func(k *kernelmech.Mechanism) {
		k.SetNetNSURL(c.o.netnsURL)
		if k.GetInterfaceName() == "" {
			k.SetInterfaceName(c.o.name(ctx, metadata.Client, conn))
		}
	}
	if k := kernelmech.ToMechanism(conn.GetMechanism()); k != nil {
		fill(k)
	}
	offered := false
	for _, m := range req.GetMechanismPreferences() {
		if k := kernelmech.ToMechanism(m); k != nil {
			fill(k)
			offered = true
		}
	}
	if !offered && conn.GetMechanism() == nil {
		m := kernelmech.New(c.o.netnsURL)
		fill(kernelmech.ToMechanism(m))
		req.MechanismPreferences = append(req.MechanismPreferences, m)
	}
	return c.Next().Request(ctx, req, opts...)
}

func (c *client) Close(ctx context.Context, conn *networkservice.Connection, opts ...grpc.CallOption) (*emptypb.Empty, error) {
	return c.Next().Close(ctx, conn, opts...)
}

// NewServer returns the NSE-side kernel element.
func NewServer(opts ...Option) (networkservice.NetworkServiceServer, error) {
	o, err := build(opts)
	if err != nil {
		return nil, err
	}
	return &server{o: o}, nil
}

type server struct {
	chain.ServerLink
	o options
}

func (s *server) Request(ctx context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	conn := req.GetConnection()
	if k := kernelmech.ToMechanism(conn.GetMechanism()); k != nil {
		k.SetNetNSURL(s.o.netnsURL)
		if name := k.GetInterfaceName(); s.o.ifName != "" || kernelmech.ValidateInterfaceName(name) != nil {
			k.SetInterfaceName(s.o.name(ctx, metadata.Server, conn))
		}
	}
	return s.Next().Request(ctx, req)
}

func (s *server) Close(ctx context.Context, conn *networkservice.Connection) (*emptypb.Empty, error) {
	return s.Next().Close(ctx, conn)
}

var (
	_ networkservice.NetworkServiceClient = (*client)(nil)
	_ networkservice.NetworkServiceServer = (*server)(nil)
)
