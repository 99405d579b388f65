// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package spiffe_test

import (
	"context"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/peer"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/common"
	kernelmech "github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/kernel"
	"github.com/nsmesh/nsmesh/sdk/core/begin"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/networkservice/connect"
	"github.com/nsmesh/nsmesh/sdk/networkservice/dial"
	"github.com/nsmesh/nsmesh/sdk/networkservice/fdpass"
	"github.com/nsmesh/nsmesh/sdk/token"
	"github.com/nsmesh/nsmesh/sdk/tools/clienturlctx"
	"github.com/nsmesh/nsmesh/sdk/tools/spiffe/devca"
)

// netnsOf records what reached the server: the netns URL and the caller.
type netnsOf struct {
	mu     sync.Mutex
	url    string
	caller string
}

func (n *netnsOf) Request(ctx context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	conn := req.GetConnection()
	conn.Mechanism = req.GetMechanismPreferences()[0].Clone()
	n.mu.Lock()
	defer n.mu.Unlock()
	n.url = conn.GetMechanism().GetParameters()[common.InodeURL]
	if p, ok := peer.FromContext(ctx); ok {
		n.caller, _ = token.SPIFFEID(token.PeerCertificate(p.AuthInfo))
	}
	return conn, nil
}

func (n *netnsOf) Close(context.Context, *networkservice.Connection) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

type urlClient struct {
	chain.ClientLink
	u *url.URL
}

func (c *urlClient) Request(ctx context.Context, req *networkservice.NetworkServiceRequest, opts ...grpc.CallOption) (*networkservice.Connection, error) {
	return c.Next().Request(clienturlctx.WithClientURL(ctx, c.u), req, opts...)
}

func (c *urlClient) Close(ctx context.Context, conn *networkservice.Connection, opts ...grpc.CallOption) (*emptypb.Empty, error) {
	return c.Next().Close(clienturlctx.WithClientURL(ctx, c.u), conn, opts...)
}

// File descriptors travel over the identity's mTLS credentials wrapped by
// fdpass, as between a client, the nsmgr and the forwarder.
func TestDescriptorsPassOverMutualTLS(t *testing.T) {
	ca := devca.MustNew("nsmesh.local")
	server := ident(t, memory(t, ca, "spiffe://nsmesh.local/nsmgr/mgr"))
	client := ident(t, memory(t, ca, "spiffe://nsmesh.local/nsc/c"))
	path := filepath.Join(t.TempDir(), "nsm.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	got := &netnsOf{}
	s := grpc.NewServer(fdpass.ServerOptions(server.ServerCredentials())...)
	networkservice.RegisterNetworkServiceServer(s, chain.NewServer(begin.NewServer(), fdpass.NewRecvServer(), got))
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Serve(l) }()
	defer func() { s.Stop(); <-done }()

	dialOpts := append(fdpass.DialOptions(client.ClientCredentials()), grpc.WithPerRPCCredentials(client.PerRPCCredentials()))
	cli := chain.NewClient(
		begin.NewClient(nil),
		&urlClient{u: &url.URL{Scheme: "unix", Path: path}},
		dial.NewClient(dial.WithDialOptions(dialOpts...), dial.WithDialTimeout(5*time.Second)),
		fdpass.NewSendClient(),
		connect.NewClient(),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := cli.Request(ctx, &networkservice.NetworkServiceRequest{
		Connection:           &networkservice.Connection{Id: "c1", NetworkService: "svc"},
		MechanismPreferences: []*networkservice.Mechanism{kernelmech.New(kernelmech.NetNSURLFromPath("/proc/self/ns/net"))},
	})
	if err != nil {
		t.Fatal(err)
	}
	got.mu.Lock()
	u, caller := got.url, got.caller
	got.mu.Unlock()
	if caller != "spiffe://nsmesh.local/nsc/c" {
		t.Fatalf("server saw caller %q over mTLS", caller)
	}
	if !strings.HasPrefix(u, "file:///proc/") {
		t.Fatalf("server saw %q, want the netns as a received descriptor", u)
	}
	var st, want syscall.Stat_t
	parsed, _ := url.Parse(u)
	if err := syscall.Stat(parsed.Path, &st); err != nil || syscall.Stat("/proc/self/ns/net", &want) != nil || st.Ino != want.Ino {
		t.Fatalf("the received descriptor %s is not the netns: %v", u, err)
	}
	if _, err := cli.Close(ctx, conn); err != nil {
		t.Fatal(err)
	}
}
