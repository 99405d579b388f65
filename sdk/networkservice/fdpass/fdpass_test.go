// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package fdpass_test

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/common"
	kernelmech "github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/kernel"
	"github.com/nsmesh/nsmesh/sdk/core/begin"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/networkservice/clienturl"
	"github.com/nsmesh/nsmesh/sdk/networkservice/connect"
	"github.com/nsmesh/nsmesh/sdk/networkservice/dial"
	"github.com/nsmesh/nsmesh/sdk/networkservice/fdpass"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const netnsPath = "/proc/self/ns/net"

func inode(t *testing.T, path string) [2]uint64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatalf("stat %s: %v", path, err)
	}
	return [2]uint64{st.Dev, st.Ino}
}

// openFDsTo counts this process's descriptors that refer to the file at path.
func openFDsTo(t *testing.T, path string) int {
	t.Helper()
	want := inode(t, path)
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		var st syscall.Stat_t
		if syscall.Stat(filepath.Join("/proc/self/fd", e.Name()), &st) == nil && [2]uint64{st.Dev, st.Ino} == want {
			n++
		}
	}
	return n
}

// endpoint checks, inside the server, that the netns arrived as a usable
// file, selects the mechanism and names a file of its own in the reply, as
// an NSE names its netns or a memif socket.
type endpoint struct {
	mu       sync.Mutex
	t        *testing.T
	reply    string // path the endpoint puts into the returned mechanism
	seen     []string
	seenOK   []bool
	closeURL []string
}

func (e *endpoint) Request(_ context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	conn := req.GetConnection()
	if conn.GetMechanism() == nil {
		conn.Mechanism = req.GetMechanismPreferences()[0].Clone()
	}
	got := conn.GetMechanism().GetParameters()[common.InodeURL]
	e.seen = append(e.seen, got)
	u, err := url.Parse(got)
	ok := err == nil && u.Scheme == "file"
	if ok {
		var st, want syscall.Stat_t
		ok = syscall.Stat(u.Path, &st) == nil && syscall.Stat(netnsPath, &want) == nil && st.Ino == want.Ino && st.Dev == want.Dev
	}
	e.seenOK = append(e.seenOK, ok)
	out := conn.Clone()
	if e.reply != "" {
		out.Mechanism.Parameters[common.InodeURL] = (&url.URL{Scheme: "file", Path: e.reply}).String()
	}
	return out, nil
}

func (e *endpoint) Close(_ context.Context, conn *networkservice.Connection) (*emptypb.Empty, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closeURL = append(e.closeURL, conn.GetMechanism().GetParameters()[common.InodeURL])
	return &emptypb.Empty{}, nil
}

// snapshot returns what the endpoint saw, safely.
func (e *endpoint) snapshot() (seen []string, ok []bool, closed []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.seen...), append([]bool(nil), e.seenOK...), append([]string(nil), e.closeURL...)
}

func serve(t *testing.T, e *endpoint) (*url.URL, func()) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "nsmgr.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(fdpass.ServerOptions(insecure.NewCredentials())...)
	networkservice.RegisterNetworkServiceServer(s, chain.NewServer(begin.NewServer(), fdpass.NewRecvServer(), e))
	go func() { _ = s.Serve(l) }()
	t.Cleanup(s.Stop)
	return &url.URL{Scheme: "unix", Path: path}, s.Stop
}

func newClient(u *url.URL) networkservice.NetworkServiceClient {
	return chain.NewClient(
		begin.NewClient(nil),
		clienturl.NewClient(u),
		dial.NewClient(dial.WithDialOptions(fdpass.DialOptions(insecure.NewCredentials())...), dial.WithDialTimeout(5*time.Second)),
		fdpass.NewRecvClient(),
		fdpass.NewSendClient(),
		connect.NewClient(),
	)
}

func kernelRequest(id string) *networkservice.NetworkServiceRequest {
	return &networkservice.NetworkServiceRequest{
		Connection:           &networkservice.Connection{Id: id, NetworkService: "svc"},
		MechanismPreferences: []*networkservice.Mechanism{kernelmech.New(kernelmech.NetNSURLFromPath(netnsPath))},
	}
}

func TestNetNSTravelsAsDescriptor(t *testing.T) {
	e := &endpoint{t: t}
	u, _ := serve(t, e)
	cli := newClient(u)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	before := openFDsTo(t, netnsPath)
	var conn *networkservice.Connection
	var err error
	for i := 0; i < 3; i++ { // request and two refreshes
		if conn, err = cli.Request(ctx, kernelRequest("c1")); err != nil {
			t.Fatal(err)
		}
	}
	seen, seenOK, _ := e.snapshot()
	for i, got := range seen {
		if !strings.HasPrefix(got, fmt.Sprintf("file:///proc/%d/fd/", os.Getpid())) || !seenOK[i] {
			t.Fatalf("request %d: server saw %q, want a usable file:///proc/<pid>/fd/<n> for the netns", i, got)
		}
	}
	if seen[0] != seen[2] {
		t.Fatalf("refresh received a new descriptor: %q then %q", seen[0], seen[2])
	}
	if got := conn.GetMechanism().GetParameters()[common.InodeURL]; got != "file://"+netnsPath {
		t.Fatalf("client got %q back, want its own URL", got)
	}
	if during := openFDsTo(t, netnsPath); during <= before {
		t.Fatalf("no descriptor to the netns is open while the connection is (%d before, %d now)", before, during)
	}
	if _, err := cli.Close(ctx, conn); err != nil {
		t.Fatal(err)
	}
	if _, _, closed := e.snapshot(); len(closed) != 1 || closed[0] != seen[0] {
		t.Fatalf("Close reached the endpoint with %q, want the local file URL %q", closed, seen[0])
	}
	// The element's descriptor is closed at once; grpcfd's copy goes with
	// the transport, which dial closes on Close: poll.
	deadline := time.Now().Add(2 * time.Second)
	for after := openFDsTo(t, netnsPath); after != before; after = openFDsTo(t, netnsPath) {
		if time.Now().After(deadline) {
			t.Fatalf("%d descriptors to the netns before, %d after Close", before, after)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestServerSendsFileBack(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "memif.sock")
	if err := os.WriteFile(sock, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	e := &endpoint{t: t, reply: sock}
	path := filepath.Join(t.TempDir(), "nse.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(fdpass.ServerOptions(insecure.NewCredentials())...)
	networkservice.RegisterNetworkServiceServer(s, chain.NewServer(begin.NewServer(), fdpass.NewRecvServer(), fdpass.NewSendServer(), e))
	go func() { _ = s.Serve(l) }()
	defer s.Stop()

	cli := newClient(&url.URL{Scheme: "unix", Path: path})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := cli.Request(ctx, kernelRequest("c1"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := url.Parse(conn.GetMechanism().GetParameters()[common.InodeURL])
	if err != nil || got.Scheme != "file" || !strings.HasPrefix(got.Path, "/proc/") {
		t.Fatalf("client got %v, want the received descriptor's file URL", conn.GetMechanism().GetParameters())
	}
	if inode(t, got.Path) != inode(t, sock) {
		t.Fatal("received descriptor is not the endpoint's file")
	}
	if _, err := cli.Close(ctx, conn); err != nil {
		t.Fatal(err)
	}
}

func TestRecvServerErrors(t *testing.T) {
	tests := []struct {
		name    string
		ctx     func() context.Context
		wantMsg string
	}{
		{name: "connection without descriptor passing", ctx: context.Background, wantMsg: "cannot carry file descriptors"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &endpoint{t: t}
			srv := chain.NewServer(begin.NewServer(), fdpass.NewRecvServer(), e)
			req := kernelRequest("c1")
			req.MechanismPreferences[0].Parameters[common.InodeURL] = "inode://4/4026531840"
			_, err := srv.Request(tt.ctx(), req)
			if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("got %v, want FailedPrecondition %q", err, tt.wantMsg)
			}
			if seen, _, _ := e.snapshot(); len(seen) != 0 {
				t.Fatal("request went on without its descriptor")
			}
		})
	}
}

func TestDescriptorNeverSent(t *testing.T) {
	// A client that names an inode but does not send it (no fdpass element).
	e := &endpoint{t: t}
	u, _ := serve(t, e)
	cli := chain.NewClient(
		begin.NewClient(nil),
		clienturl.NewClient(u),
		dial.NewClient(dial.WithDialOptions(fdpass.DialOptions(insecure.NewCredentials())...)),
		connect.NewClient(),
	)
	req := kernelRequest("c1")
	req.MechanismPreferences[0].Parameters[common.InodeURL] = "inode://4/4026531840"
	start := time.Now()
	_, err := cli.Request(context.Background(), req)
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "no file descriptor arrived") {
		t.Fatalf("got %v", err)
	}
	if d := time.Since(start); d > 3*fdpass.DefaultRecvTimeout {
		t.Fatalf("took %s", d)
	}
}

func TestTCPNextHopLeavesURLs(t *testing.T) {
	rec := &recorder{}
	cli := chain.NewClient(
		clienturl.NewClient(&url.URL{Scheme: "tcp", Host: "127.0.0.1:1"}),
		fdpass.NewRecvClient(), fdpass.NewSendClient(), rec,
	)
	if _, err := cli.Request(context.Background(), kernelRequest("c1")); err != nil {
		t.Fatal(err)
	}
	if got := rec.url; got != "file://"+netnsPath {
		t.Fatalf("towards tcp the URL became %q", got)
	}
}

type recorder struct{ url string }

func (r *recorder) Request(_ context.Context, req *networkservice.NetworkServiceRequest, _ ...grpc.CallOption) (*networkservice.Connection, error) {
	r.url = req.GetMechanismPreferences()[0].GetParameters()[common.InodeURL]
	return req.GetConnection(), nil
}

func (r *recorder) Close(context.Context, *networkservice.Connection, ...grpc.CallOption) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func TestNilCredentialsRefused(t *testing.T) {
	u, _ := serve(t, &endpoint{t: t})
	cc, err := grpc.NewClient(u.String(), fdpass.DialOptions(nil)...)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cc.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = networkservice.NewNetworkServiceClient(cc).Request(ctx, kernelRequest("c"))
	if err == nil || !strings.Contains(err.Error(), "no transport credentials were configured") {
		t.Fatalf("got %v, want the handshake refused for missing credentials", err)
	}
}

func TestThroughAPassthroughHop(t *testing.T) {
	fwd := &endpoint{t: t}
	fwdURL, _ := serve(t, fwd)

	// The nsmgr: receives from the client, passes on to the forwarder,
	// sends files of the reply back.
	toFwd := newClient(fwdURL)
	path := filepath.Join(t.TempDir(), "nsmgr.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(fdpass.ServerOptions(insecure.NewCredentials())...)
	networkservice.RegisterNetworkServiceServer(s, chain.NewServer(
		begin.NewServer(), fdpass.NewRecvServer(), connect.NewServer(toFwd), fdpass.NewSendServer(),
	))
	go func() { _ = s.Serve(l) }()
	defer s.Stop()

	cli := newClient(&url.URL{Scheme: "unix", Path: path})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := cli.Request(ctx, kernelRequest("c1"))
	if err != nil {
		t.Fatal(err)
	}
	seen, seenOK, _ := fwd.snapshot()
	if len(seen) != 1 || !seenOK[0] {
		t.Fatalf("forwarder saw %q, want a usable descriptor of the client's netns", seen)
	}
	if got := conn.GetMechanism().GetParameters()[common.InodeURL]; got != "file://"+netnsPath {
		t.Fatalf("client got %q back, want its own URL", got)
	}
	if _, err := cli.Close(ctx, conn); err != nil {
		t.Fatal(err)
	}
	if _, _, closed := fwd.snapshot(); len(closed) != 1 || closed[0] != seen[0] {
		t.Fatalf("forwarder closed with %q, want %q", closed, seen[0])
	}
}
