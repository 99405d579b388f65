// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package regtest has the helpers the registry tests share: real gRPC
// servers on unix sockets and stream collectors.
package regtest

import (
	"context"
	"errors"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/registry/chains"
	"github.com/nsmesh/nsmesh/sdk/tools/grpcutils"
)

// SocketURL returns a unix socket URL in a fresh short directory (socket
// paths are limited to about 100 bytes, test temp dirs can be longer).
func SocketURL(t testing.TB, name string) *url.URL {
	t.Helper()
	dir, err := os.MkdirTemp("", "nsreg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return &url.URL{Scheme: "unix", Path: filepath.Join(dir, name)}
}

// Insecure is the dial option of plaintext test connections.
func Insecure() grpc.DialOption {
	return grpc.WithTransportCredentials(insecure.NewCredentials())
}

// Serve serves ns and nse on u until the returned stop is called (also at
// cleanup).
func Serve(t testing.TB, u *url.URL, ns registry.NetworkServiceRegistryServer, nse registry.NetworkServiceEndpointRegistryServer) (stop func()) {
	t.Helper()
	l, err := grpcutils.Listen(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	chains.Register(s, ns, nse)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Serve(l)
	}()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		s.Stop()
		<-done
	}
	t.Cleanup(stop)
	return stop
}

// Stream is what a Find returns.
type Stream[P any] interface {
	Recv() (*P, error)
}

// Next receives one message within d.
func Next[P any](t testing.TB, s Stream[P], d time.Duration) (*P, error) {
	t.Helper()
	type res struct {
		p   *P
		err error
	}
	ch := make(chan res, 1)
	go func() {
		p, err := s.Recv()
		ch <- res{p, err}
	}()
	select {
	case r := <-ch:
		return r.p, r.err
	case <-time.After(d):
		t.Fatalf("no message within %s", d)
		return nil, nil
	}
}

// All receives until the end of a stream that is expected to end.
func All[P any](t testing.TB, s Stream[P]) []*P {
	t.Helper()
	var out []*P
	for {
		p, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("stream ended with %v", err)
		}
		out = append(out, p)
	}
}

// Eventually polls cond every 10 ms for up to d.
func Eventually(t testing.TB, d time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
