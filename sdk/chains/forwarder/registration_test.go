// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package forwarder_test

import (
	"context"
	"errors"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/chains/forwarder"
	"github.com/nsmesh/nsmesh/sdk/registry/chains"
	"github.com/nsmesh/nsmesh/sdk/registry/chains/memory"
	"github.com/nsmesh/nsmesh/sdk/tools/grpcutils"
)

// socketURL is a unix socket in a short temporary directory (socket paths
// are limited to about 100 bytes).
func socketURL(t *testing.T) *url.URL {
	t.Helper()
	dir, err := os.MkdirTemp("", "fwreg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return &url.URL{Scheme: "unix", Path: filepath.Join(dir, "nsm.sock")}
}

// serveRegistry serves a memory registry on u until the test ends.
func serveRegistry(t *testing.T, u *url.URL) registry.NetworkServiceEndpointRegistryClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := memory.NewServer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	l, err := grpcutils.Listen(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	chains.Register(s, srv.NS, srv.NSE)
	served := grpcutils.Serve(ctx, s, time.Second, l)
	cc, err := grpc.NewClient(u.String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cc.Close()
		cancel()
		<-served
	})
	return registry.NewNetworkServiceEndpointRegistryClient(cc)
}

func findNSEs(t *testing.T, c registry.NetworkServiceEndpointRegistryClient) []*registry.NetworkServiceEndpoint {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, err := c.Find(ctx, &registry.NetworkServiceEndpointQuery{NetworkServiceEndpoint: &registry.NetworkServiceEndpoint{}})
	if err != nil {
		t.Fatal(err)
	}
	var out []*registry.NetworkServiceEndpoint
	for {
		r, err := s.Recv()
		if err != nil {
			return out
		}
		out = append(out, r.GetNetworkServiceEndpoint())
	}
}

func messages(hook *test.Hook) []string {
	var out []string
	for _, e := range hook.AllEntries() {
		out = append(out, e.Level.String()+" "+e.Message)
	}
	return out
}

func TestRegisterAndUnregister(t *testing.T) {
	nsmgrURL := socketURL(t)
	observer := serveRegistry(t, nsmgrURL)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log, hook := test.NewNullLogger()
	listenOn := &url.URL{Scheme: "unix", Path: "/tmp/forwarder.sock"}
	labels := map[string]string{"p2p": "true"}
	reg, err := forwarder.Register(ctx, forwarder.Registration{
		Name: "fwd-1", Labels: labels, ListenOn: listenOn, NSMgr: nsmgrURL,
		DialTimeout: time.Second, DialOptions: []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())},
	}, log)
	if err != nil {
		t.Fatal(err)
	}
	nses := findNSEs(t, observer)
	if len(nses) != 1 {
		t.Fatalf("registry holds %d endpoints, want 1", len(nses))
	}
	nse := nses[0]
	if nse.GetName() != "fwd-1" || nse.GetUrl() != listenOn.String() ||
		len(nse.GetNetworkServiceNames()) != 1 || nse.GetNetworkServiceNames()[0] != "forwarder" ||
		!maps.Equal(nse.GetNetworkServiceLabels()["forwarder"].GetLabels(), labels) {
		t.Errorf("registered %v", nse)
	}
	if got := strings.Join(messages(hook), "; "); got != "info registering (retried until the nsmgr answers); info registered" {
		t.Errorf("logged %q", got)
	}
	hook.Reset()
	forwarder.Unregister(reg, 2*time.Second, log)
	if nses := findNSEs(t, observer); len(nses) != 0 {
		t.Errorf("registry still holds %v after Unregister", nses)
	}
	if len(hook.AllEntries()) != 0 {
		t.Errorf("a clean unregister logged %v", messages(hook))
	}
}

func TestRegisterGivesUpWithItsContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	log, _ := test.NewNullLogger()
	nsmgrURL := socketURL(t) // nothing listens here
	_, err := forwarder.Register(ctx, forwarder.Registration{
		Name: "fwd-1", ListenOn: &url.URL{Scheme: "unix", Path: "/tmp/forwarder.sock"}, NSMgr: nsmgrURL,
		DialTimeout: 50 * time.Millisecond, DialOptions: []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())},
	}, log)
	if err == nil || !strings.HasPrefix(err.Error(), "forwarder: register at the nsmgr "+nsmgrURL.String()) {
		t.Fatalf("got %v, want a registration error naming the nsmgr", err)
	}
}

// closer is a registration whose Close returns err once release is closed.
type closer struct {
	release chan struct{}
	err     error
}

func (c *closer) Close() error {
	<-c.release
	return c.err
}

func TestUnregister(t *testing.T) {
	for _, tc := range []struct {
		name    string
		hang    bool
		err     error
		wantLog []string
	}{
		{name: "closed", wantLog: nil},
		{name: "close fails", err: errors.New("gone"), wantLog: []string{"warning unregister"}},
		{name: "nsmgr does not answer", hang: true,
			wantLog: []string{"warning unregister: the nsmgr did not answer in time; the registration will expire"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log, hook := test.NewNullLogger()
			log.SetLevel(logrus.DebugLevel)
			c := &closer{release: make(chan struct{}), err: tc.err}
			if !tc.hang {
				close(c.release)
			}
			wait := 10 * time.Second // a Close that returns at once is never outwaited
			if tc.hang {
				wait = 50 * time.Millisecond
			}
			forwarder.Unregister(c, wait, log)
			if tc.hang {
				close(c.release) // lets the abandoned Close end, for the leak check
			}
			got := messages(hook)
			if strings.Join(got, "\n") != strings.Join(tc.wantLog, "\n") {
				t.Errorf("logged %q, want %q", got, tc.wantLog)
			}
			if tc.err != nil && !errors.Is(hook.LastEntry().Data[logrus.ErrorKey].(error), tc.err) {
				t.Errorf("logged error %v, want %v", hook.LastEntry().Data[logrus.ErrorKey], tc.err)
			}
		})
	}
}
