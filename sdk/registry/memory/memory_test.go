// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package memory_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/registry/adapters"
	"github.com/nsmesh/nsmesh/sdk/registry/internal/regtest"
	"github.com/nsmesh/nsmesh/sdk/registry/memory"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func labels(kv ...string) *registry.NetworkServiceLabels {
	l := &registry.NetworkServiceLabels{Labels: map[string]string{}}
	for i := 0; i+1 < len(kv); i += 2 {
		l.Labels[kv[i]] = kv[i+1]
	}
	return l
}

func TestMatchNSE(t *testing.T) {
	exp := timestamppb.New(time.Unix(1000, 500))
	nse := &registry.NetworkServiceEndpoint{
		Name:                "nse-1",
		NetworkServiceNames: []string{"red", "blue"},
		NetworkServiceLabels: map[string]*registry.NetworkServiceLabels{
			"red":  labels("app", "fw", "zone", "a"),
			"blue": labels(),
		},
		Url:            "tcp://10.0.0.1:5001",
		ExpirationTime: exp,
	}
	tests := []struct {
		name  string
		query *registry.NetworkServiceEndpoint
		want  bool
	}{
		{"nil query", nil, true},
		{"empty query", &registry.NetworkServiceEndpoint{}, true},
		{"same name", &registry.NetworkServiceEndpoint{Name: "nse-1"}, true},
		{"other name", &registry.NetworkServiceEndpoint{Name: "nse-2"}, false},
		{"name prefix is not enough", &registry.NetworkServiceEndpoint{Name: "nse"}, false},
		{"one service", &registry.NetworkServiceEndpoint{NetworkServiceNames: []string{"red"}}, true},
		{"both services", &registry.NetworkServiceEndpoint{NetworkServiceNames: []string{"blue", "red"}}, true},
		{"service not served", &registry.NetworkServiceEndpoint{NetworkServiceNames: []string{"red", "green"}}, false},
		{"labels subset", &registry.NetworkServiceEndpoint{NetworkServiceLabels: map[string]*registry.NetworkServiceLabels{"red": labels("app", "fw")}}, true},
		{"labels equal", &registry.NetworkServiceEndpoint{NetworkServiceLabels: map[string]*registry.NetworkServiceLabels{"red": labels("app", "fw", "zone", "a")}}, true},
		{"label value differs", &registry.NetworkServiceEndpoint{NetworkServiceLabels: map[string]*registry.NetworkServiceLabels{"red": labels("app", "lb")}}, false},
		{"label missing", &registry.NetworkServiceEndpoint{NetworkServiceLabels: map[string]*registry.NetworkServiceLabels{"red": labels("rack", "1")}}, false},
		{"labels of another service", &registry.NetworkServiceEndpoint{NetworkServiceLabels: map[string]*registry.NetworkServiceLabels{"blue": labels("app", "fw")}}, false},
		{"labels of unknown service", &registry.NetworkServiceEndpoint{NetworkServiceLabels: map[string]*registry.NetworkServiceLabels{"green": labels()}}, false},
		{"empty labels of served service", &registry.NetworkServiceEndpoint{NetworkServiceLabels: map[string]*registry.NetworkServiceLabels{"blue": labels()}}, true},
		{"url equal", &registry.NetworkServiceEndpoint{Url: "tcp://10.0.0.1:5001"}, true},
		{"url substring", &registry.NetworkServiceEndpoint{Url: "10.0.0.1"}, true},
		{"url not contained", &registry.NetworkServiceEndpoint{Url: "10.0.0.2"}, false},
		{"expiration same seconds", &registry.NetworkServiceEndpoint{ExpirationTime: timestamppb.New(time.Unix(1000, 0))}, true},
		{"expiration other seconds", &registry.NetworkServiceEndpoint{ExpirationTime: timestamppb.New(time.Unix(1001, 500))}, false},
		{"all fields", &registry.NetworkServiceEndpoint{
			Name: "nse-1", NetworkServiceNames: []string{"red"}, Url: "10.0.0.1",
			NetworkServiceLabels: map[string]*registry.NetworkServiceLabels{"red": labels("zone", "a")},
		}, true},
		{"all fields but one", &registry.NetworkServiceEndpoint{
			Name: "nse-1", NetworkServiceNames: []string{"red"}, Url: "10.0.0.9",
			NetworkServiceLabels: map[string]*registry.NetworkServiceLabels{"red": labels("zone", "a")},
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := memory.MatchNSE(tt.query, nse); got != tt.want {
				t.Fatalf("MatchNSE = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMatchNS(t *testing.T) {
	m := func(k, v string) *registry.Match {
		return &registry.Match{SourceSelector: map[string]string{k: v}, Routes: []*registry.Destination{{DestinationSelector: map[string]string{"x": "y"}}}}
	}
	ns := &registry.NetworkService{Name: "red", Payload: "IP", Matches: []*registry.Match{m("app", "a"), m("app", "b")}}
	tests := []struct {
		name  string
		query *registry.NetworkService
		want  bool
	}{
		{"nil query", nil, true},
		{"empty query", &registry.NetworkService{}, true},
		{"same name", &registry.NetworkService{Name: "red"}, true},
		{"other name", &registry.NetworkService{Name: "blue"}, false},
		{"same payload", &registry.NetworkService{Payload: "IP"}, true},
		{"other payload", &registry.NetworkService{Name: "red", Payload: "ETHERNET"}, false},
		{"equal matches", &registry.NetworkService{Matches: []*registry.Match{m("app", "a"), m("app", "b")}}, true},
		{"matches in another order", &registry.NetworkService{Matches: []*registry.Match{m("app", "b"), m("app", "a")}}, false},
		{"subset of matches", &registry.NetworkService{Matches: []*registry.Match{m("app", "a")}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := memory.MatchNS(tt.query, ns); got != tt.want {
				t.Fatalf("MatchNS = %v, want %v", got, tt.want)
			}
		})
	}
}

func names(rs []*registry.NetworkServiceEndpointResponse) []string {
	var out []string
	for _, r := range rs {
		n := r.GetNetworkServiceEndpoint().GetName()
		if r.GetDeleted() {
			n = "-" + n
		}
		out = append(out, n)
	}
	return out
}

func TestFindWithoutWatch(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := adapters.NSEServerToClient(memory.NewNSEServer(ctx))
	for _, nse := range []*registry.NetworkServiceEndpoint{
		{Name: "b", NetworkServiceNames: []string{"red"}},
		{Name: "a", NetworkServiceNames: []string{"red", "blue"}},
		{Name: "c", NetworkServiceNames: []string{"blue"}},
	} {
		if _, err := c.Register(ctx, nse); err != nil {
			t.Fatal(err)
		}
	}
	s, err := c.Find(ctx, &registry.NetworkServiceEndpointQuery{NetworkServiceEndpoint: &registry.NetworkServiceEndpoint{NetworkServiceNames: []string{"red"}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(regtest.All(t, s)); len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Fatalf("found %v, want [a b]", got)
	}
	if _, err := c.Unregister(ctx, &registry.NetworkServiceEndpoint{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Unregister(ctx, &registry.NetworkServiceEndpoint{Name: "a"}); err != nil {
		t.Fatalf("second Unregister of the same name: %v, want idempotent", err)
	}
	s, _ = c.Find(ctx, &registry.NetworkServiceEndpointQuery{NetworkServiceEndpoint: &registry.NetworkServiceEndpoint{}})
	if got := names(regtest.All(t, s)); len(got) != 2 || got[0] != "b" || got[1] != "c" {
		t.Fatalf("after Unregister found %v, want [b c]", got)
	}
}

func TestRegisterWithoutName(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := memory.NewNSEServer(ctx).Register(ctx, &registry.NetworkServiceEndpoint{Url: "tcp://1.1.1.1:1"})
	if status.Code(err) != codes.InvalidArgument || status.Convert(err).Message() != "registry: network service endpoint has no name" {
		t.Fatalf("got %v", err)
	}
	_, err = memory.NewNSServer(ctx).Register(ctx, &registry.NetworkService{})
	if status.Code(err) != codes.InvalidArgument || status.Convert(err).Message() != "registry: network service has no name" {
		t.Fatalf("got %v", err)
	}
}

func TestWatchSeesLaterChanges(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := adapters.NSEServerToClient(memory.NewNSEServer(ctx))
	if _, err := c.Register(ctx, &registry.NetworkServiceEndpoint{Name: "old", NetworkServiceNames: []string{"red"}}); err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithCancel(ctx)
	s, err := c.Find(wctx, &registry.NetworkServiceEndpointQuery{
		NetworkServiceEndpoint: &registry.NetworkServiceEndpoint{NetworkServiceNames: []string{"red"}},
		Watch:                  true,
	})
	if err != nil {
		t.Fatal(err)
	}
	// The snapshot arrives once the watch is in place: later changes follow it.
	first, err := regtest.Next(t, s, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	got := []*registry.NetworkServiceEndpointResponse{first}
	calls := []func() error{
		func() error {
			_, err := c.Register(ctx, &registry.NetworkServiceEndpoint{Name: "other", NetworkServiceNames: []string{"blue"}})
			return err
		},
		func() error {
			_, err := c.Register(ctx, &registry.NetworkServiceEndpoint{Name: "new", NetworkServiceNames: []string{"red"}, Url: "u1"})
			return err
		},
		func() error {
			_, err := c.Register(ctx, &registry.NetworkServiceEndpoint{Name: "new", NetworkServiceNames: []string{"red"}, Url: "u2"})
			return err
		},
		func() error { _, err := c.Unregister(ctx, &registry.NetworkServiceEndpoint{Name: "other"}); return err },
		func() error { _, err := c.Unregister(ctx, &registry.NetworkServiceEndpoint{Name: "old"}); return err },
	}
	for _, call := range calls {
		if err := call(); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		r, err := regtest.Next(t, s, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	want := []string{"old", "new", "new", "-old"}
	for i, n := range names(got) {
		if n != want[i] {
			t.Fatalf("watch saw %v, want %v", names(got), want)
		}
	}
	if u := got[2].GetNetworkServiceEndpoint().GetUrl(); u != "u2" {
		t.Fatalf("re-registration carried url %q, want u2", u)
	}
	wcancel()
	if _, err := s.Recv(); status.Code(err) != codes.Canceled {
		t.Fatalf("after cancel: %v, want Canceled", err)
	}
}

// blockedStream is a Find stream whose Send blocks until released: a watcher
// that does not read.
type blockedStream struct {
	registry.NetworkServiceEndpointRegistry_FindServer
	ctx     context.Context
	entered chan struct{}
	once    sync.Once
	release chan struct{}
}

func (s *blockedStream) Context() context.Context { return s.ctx }
func (s *blockedStream) Send(*registry.NetworkServiceEndpointResponse) error {
	s.once.Do(func() { close(s.entered) })
	<-s.release
	return nil
}

func TestSlowWatcherIsEndedAndNeverBlocksTheStore(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const buffer = 4
	srv := memory.NewNSEServer(ctx, memory.WithWatchBuffer(buffer))
	c := adapters.NSEServerToClient(srv)
	if _, err := c.Register(ctx, &registry.NetworkServiceEndpoint{Name: "seed"}); err != nil {
		t.Fatal(err)
	}
	slow := &blockedStream{ctx: ctx, entered: make(chan struct{}), release: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		done <- srv.Find(&registry.NetworkServiceEndpointQuery{NetworkServiceEndpoint: &registry.NetworkServiceEndpoint{}, Watch: true}, slow)
	}()
	// Sending the snapshot means the watcher is in place, and stuck.
	<-slow.entered

	start := time.Now()
	for i := range 10 * buffer {
		if _, err := c.Register(ctx, &registry.NetworkServiceEndpoint{Name: fmt.Sprintf("nse-%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("registrations took %s with a stuck watcher", d)
	}
	close(slow.release)
	select {
	case err := <-done:
		if status.Code(err) != codes.ResourceExhausted {
			t.Fatalf("slow watcher ended with %v, want ResourceExhausted", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("slow watcher was not ended")
	}
	// A watcher that keeps up still works.
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	s, _ := c.Find(wctx, &registry.NetworkServiceEndpointQuery{NetworkServiceEndpoint: &registry.NetworkServiceEndpoint{Name: "seed"}, Watch: true})
	if r, err := regtest.Next(t, s, 5*time.Second); err != nil || r.GetNetworkServiceEndpoint().GetName() != "seed" {
		t.Fatalf("new watcher got %v, %v", r, err)
	}
}

func TestWatchEndsWhenStoreContextIsDone(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	c := adapters.NSServerToClient(memory.NewNSServer(ctx))
	s, err := c.Find(context.Background(), &registry.NetworkServiceQuery{NetworkService: &registry.NetworkService{}, Watch: true})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := regtest.Next(t, s, 5*time.Second); status.Code(err) != codes.Unavailable {
		t.Fatalf("got %v, want Unavailable", err)
	}
}

func TestRegisterReturnsACopy(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := adapters.NSServerToClient(memory.NewNSServer(ctx))
	in := &registry.NetworkService{Name: "red", Payload: "IP"}
	out, err := c.Register(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	out.Payload = "changed"
	in.Payload = "changed too"
	s, _ := c.Find(ctx, &registry.NetworkServiceQuery{NetworkService: &registry.NetworkService{Name: "red"}})
	got := regtest.All(t, s)
	if len(got) != 1 || !proto.Equal(got[0].GetNetworkService(), &registry.NetworkService{Name: "red", Payload: "IP"}) {
		t.Fatalf("store holds %v", got)
	}
}
