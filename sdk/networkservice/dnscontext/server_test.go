// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package dnscontext_test

import (
	"context"
	"testing"

	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/networkservice/dnscontext"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func cfg(servers []string, domains ...string) *networkservice.DNSConfig {
	return &networkservice.DNSConfig{DnsServerIps: servers, SearchDomains: domains}
}

func TestRequestAppendsMissingConfigs(t *testing.T) {
	a := cfg([]string{"10.0.0.53"}, "red.svc")
	b := cfg([]string{"fd00::53", "10.0.0.54"})
	for _, tt := range []struct {
		name    string
		configs []*networkservice.DNSConfig
		context *networkservice.ConnectionContext
		want    []*networkservice.DNSConfig
	}{
		{"no context yet", []*networkservice.DNSConfig{a, b}, nil, []*networkservice.DNSConfig{a, b}},
		{"empty dns context", []*networkservice.DNSConfig{a}, &networkservice.ConnectionContext{DnsContext: &networkservice.DNSContext{}}, []*networkservice.DNSConfig{a}},
		{"already present: not repeated", []*networkservice.DNSConfig{a, b},
			&networkservice.ConnectionContext{DnsContext: &networkservice.DNSContext{Configs: []*networkservice.DNSConfig{b}}},
			[]*networkservice.DNSConfig{b, a}},
		{"client's own configs stay first", []*networkservice.DNSConfig{a},
			&networkservice.ConnectionContext{DnsContext: &networkservice.DNSContext{Configs: []*networkservice.DNSConfig{cfg([]string{"1.1.1.1"})}}},
			[]*networkservice.DNSConfig{cfg([]string{"1.1.1.1"}), a}},
		{"same servers, other search domains: a different config", []*networkservice.DNSConfig{a},
			&networkservice.ConnectionContext{DnsContext: &networkservice.DNSContext{Configs: []*networkservice.DNSConfig{cfg([]string{"10.0.0.53"})}}},
			[]*networkservice.DNSConfig{cfg([]string{"10.0.0.53"}), a}},
		{"duplicates in the configuration collapse", []*networkservice.DNSConfig{a, proto.Clone(a).(*networkservice.DNSConfig)}, nil, []*networkservice.DNSConfig{a}},
		{"nothing configured: context untouched", nil, nil, nil},
		{"nil configs are ignored", []*networkservice.DNSConfig{nil, a}, nil, []*networkservice.DNSConfig{a}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := chain.NewServer(dnscontext.NewServer(tt.configs...))
			req := &networkservice.NetworkServiceRequest{Connection: &networkservice.Connection{Id: "c", Context: tt.context}}
			conn, err := srv.Request(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			got := conn.GetContext().GetDnsContext().GetConfigs()
			if !equal(got, tt.want) {
				t.Fatalf("configs %v, want %v", got, tt.want)
			}
			// A refresh carries the returned context back: nothing grows.
			conn, err = srv.Request(context.Background(), &networkservice.NetworkServiceRequest{Connection: conn})
			if err != nil {
				t.Fatal(err)
			}
			if got := conn.GetContext().GetDnsContext().GetConfigs(); !equal(got, tt.want) {
				t.Fatalf("after refresh configs %v, want %v", got, tt.want)
			}
		})
	}
}

func TestConfigsAreCopied(t *testing.T) {
	mine := cfg([]string{"10.0.0.53"}, "red.svc")
	srv := chain.NewServer(dnscontext.NewServer(mine))
	mine.DnsServerIps[0] = "192.0.2.1" // the caller changes its slice after building
	conn, err := srv.Request(context.Background(), &networkservice.NetworkServiceRequest{Connection: &networkservice.Connection{Id: "c"}})
	if err != nil {
		t.Fatal(err)
	}
	got := conn.GetContext().GetDnsContext().GetConfigs()[0]
	if got.GetDnsServerIps()[0] != "10.0.0.53" {
		t.Fatalf("element followed the caller's change: %v", got)
	}
	got.SearchDomains = append(got.SearchDomains, "evil") // downstream changes the connection
	conn, err = srv.Request(context.Background(), &networkservice.NetworkServiceRequest{Connection: &networkservice.Connection{Id: "d"}})
	if err != nil {
		t.Fatal(err)
	}
	if d := conn.GetContext().GetDnsContext().GetConfigs()[0].GetSearchDomains(); len(d) != 1 || d[0] != "red.svc" {
		t.Fatalf("a connection's change leaked into the element: %v", d)
	}
}

// closeRecorder records the connection Close brings.
type closeRecorder struct {
	chain.ServerLink
	got *networkservice.Connection
}

func (r *closeRecorder) Request(ctx context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	return r.Next().Request(ctx, req)
}

func (r *closeRecorder) Close(ctx context.Context, conn *networkservice.Connection) (*emptypb.Empty, error) {
	r.got = conn
	return r.Next().Close(ctx, conn)
}

func TestCloseIsPassedOnUnchanged(t *testing.T) {
	rec := &closeRecorder{}
	srv := chain.NewServer(dnscontext.NewServer(cfg([]string{"10.0.0.53"})), rec)
	conn := &networkservice.Connection{Id: "c", NetworkService: "red"}
	if _, err := srv.Close(context.Background(), conn); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(rec.got, &networkservice.Connection{Id: "c", NetworkService: "red"}) {
		t.Fatalf("Close passed on %v", rec.got)
	}
}

func equal(a, b []*networkservice.DNSConfig) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !proto.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}
