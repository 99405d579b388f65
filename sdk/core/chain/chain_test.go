// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package chain_test

import (
	"context"
	"strings"
	"testing"

	"go.uber.org/goleak"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorder appends its name to the connection's labels["trace"] on the way
// in and "/"+name on the way out.
type recorder struct {
	chain.ServerLink
	name string
}

func (r *recorder) Request(ctx context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	c := req.GetConnection()
	c.Labels["trace"] += r.name
	conn, err := r.Next().Request(ctx, req)
	if err == nil {
		conn.Labels["trace"] += "/" + r.name
	}
	return conn, err
}

func (r *recorder) Close(ctx context.Context, conn *networkservice.Connection) (*emptypb.Empty, error) {
	conn.Labels["trace"] += r.name
	return r.Next().Close(ctx, conn)
}

// terminal has no Link: it may only be last.
type terminal struct{}

func (terminal) Request(_ context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	req.GetConnection().Labels["trace"] += "T"
	return req.GetConnection(), nil
}

func (terminal) Close(context.Context, *networkservice.Connection) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func newReq() *networkservice.NetworkServiceRequest {
	return &networkservice.NetworkServiceRequest{Connection: &networkservice.Connection{Id: "c", Labels: map[string]string{}}}
}

func TestOrderAndNesting(t *testing.T) {
	tests := []struct {
		name  string
		build func() networkservice.NetworkServiceServer
		want  string
	}{
		{"empty chain returns the request's connection", func() networkservice.NetworkServiceServer { return chain.NewServer() }, ""},
		{"flat", func() networkservice.NetworkServiceServer {
			return chain.NewServer(&recorder{name: "a"}, &recorder{name: "b"}, &recorder{name: "c"})
		}, "abc/c/b/a"},
		{"nil elements are skipped", func() networkservice.NetworkServiceServer {
			return chain.NewServer(&recorder{name: "a"}, nil, &recorder{name: "b"}, nil)
		}, "ab/b/a"},
		{"nested chain continues in the outer chain", func() networkservice.NetworkServiceServer {
			inner := chain.NewServer(&recorder{name: "x"}, &recorder{name: "y"})
			return chain.NewServer(&recorder{name: "a"}, inner, &recorder{name: "b"})
		}, "axyb/b/y/x/a"},
		{"terminal element ends the chain", func() networkservice.NetworkServiceServer {
			return chain.NewServer(&recorder{name: "a"}, terminal{})
		}, "aT/a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := tt.build().Request(context.Background(), newReq())
			if err != nil {
				t.Fatal(err)
			}
			if got := conn.GetLabels()["trace"]; got != tt.want {
				t.Fatalf("trace = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLinkingMistakesPanic(t *testing.T) {
	tests := []struct {
		name  string
		build func()
		want  string
	}{
		{"element reused in two chains", func() {
			r := &recorder{name: "a"}
			chain.NewServer(r)
			chain.NewServer(r)
		}, "already part of a chain"},
		{"terminal element in the middle", func() {
			chain.NewServer(terminal{}, &recorder{name: "a"})
		}, "must be the last element"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if r == nil || !strings.Contains(r.(string), tt.want) {
					t.Fatalf("panic = %v, want one containing %q", r, tt.want)
				}
			}()
			tt.build()
		})
	}
}

func BenchmarkElementHop(b *testing.B) {
	for _, n := range []int{1, 10} {
		elems := make([]networkservice.NetworkServiceServer, n)
		for i := range elems {
			elems[i] = &passthrough{}
		}
		s := chain.NewServer(elems...)
		req := newReq()
		ctx := context.Background()
		b.Run(strings.Repeat("e", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Request(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

type passthrough struct{ chain.ServerLink }

func (p *passthrough) Request(ctx context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	return p.Next().Request(ctx, req)
}

func (p *passthrough) Close(ctx context.Context, conn *networkservice.Connection) (*emptypb.Empty, error) {
	return p.Next().Close(ctx, conn)
}
