// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package adapters_test

import (
	"context"
	"testing"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/core/adapters"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type mark struct {
	chain.ServerLink
	s string
}

func (m *mark) Request(ctx context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	req.GetConnection().Labels["t"] += m.s
	return m.Next().Request(ctx, req)
}

func (m *mark) Close(ctx context.Context, conn *networkservice.Connection) (*emptypb.Empty, error) {
	conn.Labels["t"] += m.s
	return m.Next().Close(ctx, conn)
}

type cmark struct {
	chain.ClientLink
	s string
}

func (m *cmark) Request(ctx context.Context, req *networkservice.NetworkServiceRequest, opts ...grpc.CallOption) (*networkservice.Connection, error) {
	req.GetConnection().Labels["t"] += m.s
	return m.Next().Request(ctx, req, opts...)
}

func (m *cmark) Close(ctx context.Context, conn *networkservice.Connection, opts ...grpc.CallOption) (*emptypb.Empty, error) {
	conn.Labels["t"] += m.s
	return m.Next().Close(ctx, conn, opts...)
}

func TestAdaptersContinueTheOuterChain(t *testing.T) {
	srv := chain.NewServer(&mark{s: "a"}, adapters.ClientToServer(&cmark{s: "B"}), &mark{s: "c"})
	cli := chain.NewClient(&cmark{s: "A"}, adapters.ServerToClient(&mark{s: "b"}), &cmark{s: "C"})
	for name, call := range map[string]func(*networkservice.Connection) error{
		"server request": func(c *networkservice.Connection) error {
			_, err := srv.Request(context.Background(), &networkservice.NetworkServiceRequest{Connection: c})
			return err
		},
		"server close": func(c *networkservice.Connection) error { _, err := srv.Close(context.Background(), c); return err },
		"client request": func(c *networkservice.Connection) error {
			_, err := cli.Request(context.Background(), &networkservice.NetworkServiceRequest{Connection: c})
			return err
		},
		"client close": func(c *networkservice.Connection) error { _, err := cli.Close(context.Background(), c); return err },
	} {
		c := &networkservice.Connection{Labels: map[string]string{}}
		if err := call(c); err != nil {
			t.Fatal(name, err)
		}
		if got := c.Labels["t"]; got != "aBc" && got != "AbC" {
			t.Fatalf("%s: trace %q", name, got)
		}
	}
}
