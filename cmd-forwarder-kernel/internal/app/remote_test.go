// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package app_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/cmd-forwarder-kernel/internal/app"
	"github.com/nsmesh/nsmesh/cmd-forwarder-kernel/internal/config"
	"github.com/nsmesh/nsmesh/sdk/chains/client"
	"github.com/nsmesh/nsmesh/sdk/dataplane/kernel"
	kernelmech "github.com/nsmesh/nsmesh/sdk/networkservice/mechanisms/kernel"
	"github.com/nsmesh/nsmesh/sdk/networkservice/mechanisms/wireguard"
	"github.com/nsmesh/nsmesh/sdk/sandbox"
	"github.com/nsmesh/nsmesh/sdk/tools/spiffe"
)

// TestRemoteConnectionOverWireGuard runs two forwarder applications, one per
// node of an in-process mesh (both in this process's namespace, tunnelling
// over loopback on distinct port ranges): a client on node 0 reaches an
// endpoint on node 1 through both, over a WireGuard tunnel by default; the
// interfaces in both workloads are TUN devices; traffic passes; Close
// removes them.
func TestRemoteConnectionOverWireGuard(t *testing.T) {
	requireRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	nscNS, nscPath := newNS(t, "rnsc")
	nseNS, nsePath := newNS(t, "rnse")

	d := sandbox.New(ctx, t, sandbox.WithNodes(2), sandbox.WithForwardersPerNode(0), sandbox.WithMTLS())
	dir := t.TempDir()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var names []string
	ran := make(chan error, 2)
	for i, node := range d.Nodes {
		name := fmt.Sprintf("fwd%d-%s", i, runID)
		names = append(names, name)
		first := uint16(46000 + 100*i)
		svidDir, err := d.WriteSVIDDir(name)
		if err != nil {
			t.Fatal(err)
		}
		cfg := &config.Config{
			Identity:         spiffe.Config{Mode: spiffe.ModeFiles, SVIDDir: svidDir},
			Name:             name,
			ListenOn:         &url.URL{Scheme: "unix", Path: filepath.Join(dir, name+".sock")},
			ConnectTo:        node.NSMgr.UnixURL(),
			TunnelIP:         net.ParseIP("127.0.0.1"),
			VxlanPort:        4789,
			WireguardPorts:   wireguard.PortRange{First: first, Last: first + 9},
			Labels:           map[string]string{"p2p": "true"},
			MaxTokenLifetime: time.Minute,
			DialTimeout:      time.Second,
			LogLevel:         logrus.InfoLevel,
			AdoptionGrace:    time.Minute,
		}
		go func() { ran <- app.Run(runCtx, cfg, logger(t)) }()
	}

	if err := d.Nodes[0].RegisterService(ctx, &registry.NetworkService{Name: "blue", Payload: "IP"}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Nodes[1].NewEndpoint(ctx, &registry.NetworkServiceEndpoint{Name: "nse-blue", NetworkServiceNames: []string{"blue"}},
		sandbox.Fresh(func() networkservice.NetworkServiceServer { return &nseInNS{path: nsePath, ifName: "blue-srv"} })); err != nil {
		t.Fatal(err)
	}
	offer, err := kernelmech.NewClient(kernelmech.WithNetNSURL("file://" + nscPath))
	if err != nil {
		t.Fatal(err)
	}
	nsc, err := d.Nodes[0].NewClient(ctx, "nsc-remote", client.WithAdditionalFunctionality(offer))
	if err != nil {
		t.Fatal(err)
	}
	var conn *networkservice.Connection
	for deadline := time.Now().Add(15 * time.Second); ; {
		conn, err = nsc.Request(ctx, &networkservice.NetworkServiceRequest{Connection: &networkservice.Connection{NetworkService: "blue"}})
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	var hops []string
	for _, s := range conn.GetPath().GetPathSegments() {
		hops = append(hops, s.GetName())
	}
	if len(hops) != 6 || hops[2] != names[0] || hops[4] != names[1] {
		t.Fatalf("path %v, want both forwarders", hops)
	}
	clientIf := conn.GetMechanism().GetParameters()["name"]
	for _, c := range []struct {
		ns     *kernel.NetNS
		ifName string
	}{{nscNS, clientIf}, {nseNS, "blue-srv"}} {
		l, err := handle(t, c.ns).LinkByName(c.ifName)
		if err != nil {
			t.Fatalf("interface %s: %v", c.ifName, err)
		}
		if l.Type() != "tuntap" {
			t.Errorf("%s is a %s, want the TUN of a WireGuard tunnel", c.ifName, l.Type())
		}
	}
	server := netip.MustParsePrefix(conn.GetContext().GetIpContext().GetDstIpAddrs()[0]).Addr()
	if err := tcpEcho(nscNS, nseNS, server); err != nil {
		t.Fatal(err)
	}
	// A refresh keeps the tunnel.
	before, _ := handle(t, nscNS).LinkByName(clientIf)
	if conn, err = nsc.Request(ctx, &networkservice.NetworkServiceRequest{Connection: conn}); err != nil {
		t.Fatal(err)
	}
	if after, err := handle(t, nscNS).LinkByName(clientIf); err != nil || after.Attrs().Index != before.Attrs().Index {
		t.Errorf("refresh replaced the client's interface: %v", err)
	}
	if err := tcpEcho(nscNS, nseNS, server); err != nil {
		t.Fatal(err)
	}

	if _, err := nsc.Close(ctx, conn); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []*kernel.NetNS{nscNS, nseNS} {
		links, err := handle(t, ns).LinkList()
		if err != nil {
			t.Fatal(err)
		}
		if len(links) != 1 { // lo
			t.Errorf("%d links left in %s after Close", len(links)-1, ns)
		}
	}
	stop()
	for range d.Nodes {
		select {
		case err := <-ran:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return after cancellation")
		}
	}
}
