// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package mesh

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/apis/registry"
)

// The inspection calls below ask the mesh's own servers what they hold, as
// an operator's tool would. They need the plaintext development mode (a
// mesh without Config.MTLS): the test process has no SVID.

// Registrations returns the names of the endpoints (forwarders included)
// the registry holds, sorted.
func (m *Mesh) Registrations(ctx context.Context) ([]string, error) {
	if m.MTLS {
		return nil, errors.New("mesh: Registrations needs a plaintext mesh")
	}
	ns := m.Nodes[0].NetNS
	cc, err := grpc.NewClient("passthrough:///"+strings.TrimPrefix(RegistryURL, "tcp://"),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (c net.Conn, err error) {
			// The registry listens inside node 1's namespace.
			err = ns.Do(func() (err error) {
				var d net.Dialer
				c, err = d.DialContext(ctx, "tcp", addr)
				return err
			})
			return c, err
		}))
	if err != nil {
		return nil, fmt.Errorf("mesh: registry: %w", err)
	}
	defer cc.Close()
	stream, err := registry.NewNetworkServiceEndpointRegistryClient(cc).Find(ctx,
		&registry.NetworkServiceEndpointQuery{NetworkServiceEndpoint: &registry.NetworkServiceEndpoint{}})
	if err != nil {
		return nil, fmt.Errorf("mesh: registry find: %w", err)
	}
	var names []string
	for {
		r, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("mesh: registry find: %w", err)
		}
		if !r.GetDeleted() {
			names = append(names, r.GetNetworkServiceEndpoint().GetName())
		}
	}
	slices.Sort(names)
	return names, nil
}

// Connections returns the connections node n's nsmgr holds (its monitor's
// initial state).
func (m *Mesh) Connections(ctx context.Context, n *Node) ([]*networkservice.Connection, error) {
	if m.MTLS {
		return nil, errors.New("mesh: Connections needs a plaintext mesh")
	}
	cc, err := grpc.NewClient("unix://"+strings.TrimPrefix(n.NsmgrURL, "unix://"),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("mesh: nsmgr%d: %w", n.Index, err)
	}
	defer cc.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := networkservice.NewMonitorConnectionClient(cc).MonitorConnections(ctx, &networkservice.MonitorScopeSelector{})
	if err != nil {
		return nil, fmt.Errorf("mesh: nsmgr%d monitor: %w", n.Index, err)
	}
	ev, err := stream.Recv()
	if err != nil {
		return nil, fmt.Errorf("mesh: nsmgr%d monitor: %w", n.Index, err)
	}
	if ev.GetType() != networkservice.ConnectionEventType_INITIAL_STATE_TRANSFER {
		return nil, fmt.Errorf("mesh: nsmgr%d monitor: first event is %s", n.Index, ev.GetType())
	}
	var out []*networkservice.Connection
	for _, c := range ev.GetConnections() {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b *networkservice.Connection) int { return strings.Compare(a.GetId(), b.GetId()) })
	return out, nil
}

// Pprof addresses of the nsmgrs and forwarders inside their node's
// namespace, served when Config.Pprof is set.
const (
	NsmgrPprof     = "127.0.0.1:6060"
	ForwarderPprof = "127.0.0.1:6061"
)

// Goroutines returns how many goroutines process p runs, from its pprof
// server at addr in its namespace (an nsmgr or forwarder of a mesh started
// with Config.Pprof).
func Goroutines(ctx context.Context, p *Proc, addr string) (int, error) {
	client := &http.Client{Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, a string) (c net.Conn, err error) {
			err = p.NetNS.Do(func() (err error) {
				var d net.Dialer
				c, err = d.DialContext(ctx, network, a)
				return err
			})
			return c, err
		},
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/debug/pprof/goroutine?debug=1", nil)
	if err != nil {
		return 0, fmt.Errorf("mesh: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("mesh: goroutines of %s: %w", p.Name, err)
	}
	defer resp.Body.Close()
	// The first line is "goroutine profile: total N".
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil {
		return 0, fmt.Errorf("mesh: goroutines of %s: %w", p.Name, err)
	}
	total, ok := strings.CutPrefix(strings.TrimSpace(line), "goroutine profile: total ")
	n, err := strconv.Atoi(total)
	if !ok || err != nil {
		return 0, fmt.Errorf("mesh: goroutines of %s: unexpected profile line %q", p.Name, line)
	}
	return n, nil
}
