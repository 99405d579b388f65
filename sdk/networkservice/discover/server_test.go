// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package discover_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/core/begin"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/networkservice/discover"
	"github.com/nsmesh/nsmesh/sdk/tools/clienturlctx"
	"github.com/nsmesh/nsmesh/sdk/tools/fakes"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// capture records what discover handed to the next element.
type capture struct {
	calls      int
	url        string
	candidates []string
	payload    string
}

func (c *capture) record(ctx context.Context) {
	c.calls++
	c.url = ""
	if u := clienturlctx.ClientURL(ctx); u != nil {
		c.url = u.String()
	}
	c.candidates = nil
	if cs := discover.CandidatesFromContext(ctx); cs != nil {
		c.candidates = names(cs.Endpoints)
	}
}

func (c *capture) Request(ctx context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	c.record(ctx)
	c.payload = req.GetConnection().GetPayload()
	return req.GetConnection(), nil
}

func (c *capture) Close(ctx context.Context, _ *networkservice.Connection) (*emptypb.Empty, error) {
	c.record(ctx)
	return &emptypb.Empty{}, nil
}

func newServer(t *testing.T, reg *fakes.Registry, now time.Time) (networkservice.NetworkServiceServer, *capture) {
	t.Helper()
	d, err := discover.NewServer(reg.NS(), reg.NSE(), discover.WithNow(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	c := &capture{}
	return chain.NewServer(d, c), c
}

func TestDiscoverRequest(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	expired := nse("old", map[string]string{"app": "fw"})
	expired.ExpirationTime = timestamppb.New(now.Add(-time.Second))
	fresh := nse("new", map[string]string{"app": "fw"})
	fresh.ExpirationTime = timestamppb.New(now.Add(time.Minute))

	tests := []struct {
		name           string
		ns             *registry.NetworkService
		nses           []*registry.NetworkServiceEndpoint
		conn           *networkservice.Connection
		preset         string
		timeout        time.Duration
		wantCode       codes.Code
		wantMsg        string
		wantURL        string
		wantCandidates []string
		wantPayload    string
	}{
		{
			name:           "all endpoints of a service without matches",
			ns:             &registry.NetworkService{Name: "svc", Payload: "ETHERNET"},
			nses:           []*registry.NetworkServiceEndpoint{nse("b", nil), nse("a", nil)},
			conn:           &networkservice.Connection{NetworkService: "svc"},
			wantCandidates: []string{"a", "b"},
			wantPayload:    "ETHERNET",
		},
		{
			name:           "expired registrations are dropped",
			ns:             &registry.NetworkService{Name: "svc"},
			nses:           []*registry.NetworkServiceEndpoint{expired, fresh},
			conn:           &networkservice.Connection{NetworkService: "svc"},
			wantCandidates: []string{"new"},
		},
		{
			name: "labels select through matches",
			ns: &registry.NetworkService{Name: "svc", Matches: []*registry.Match{{
				Routes: []*registry.Destination{{DestinationSelector: map[string]string{"nodeName": "{{.nodeName}}"}}},
			}}},
			nses:           []*registry.NetworkServiceEndpoint{nse("a", map[string]string{"nodeName": "n1"}), nse("b", map[string]string{"nodeName": "n2"})},
			conn:           &networkservice.Connection{NetworkService: "svc", Labels: map[string]string{"nodeName": "n2"}},
			wantCandidates: []string{"b"},
		},
		{
			name:    "named endpoint goes straight to its URL",
			ns:      &registry.NetworkService{Name: "svc"},
			nses:    []*registry.NetworkServiceEndpoint{nse("a", nil), nse("b", nil)},
			conn:    &networkservice.Connection{NetworkService: "svc", NetworkServiceEndpointName: "b"},
			wantURL: "unix:///run/b.sock",
		},
		{
			name:     "named endpoint that is not registered",
			ns:       &registry.NetworkService{Name: "svc"},
			conn:     &networkservice.Connection{NetworkService: "svc", NetworkServiceEndpointName: "gone"},
			wantCode: codes.NotFound,
			wantMsg:  `network service endpoint "gone" not found`,
		},
		{
			name:     "named endpoint with an unusable URL",
			ns:       &registry.NetworkService{Name: "svc"},
			nses:     []*registry.NetworkServiceEndpoint{{Name: "bad", NetworkServiceNames: []string{"svc"}, Url: "http://x"}},
			conn:     &networkservice.Connection{NetworkService: "svc", NetworkServiceEndpointName: "bad"},
			wantCode: codes.FailedPrecondition,
		},
		{
			name:    "a URL already chosen is kept",
			conn:    &networkservice.Connection{NetworkService: "unknown"},
			preset:  "tcp://10.0.0.1:5001",
			wantURL: "tcp://10.0.0.1:5001",
		},
		{
			name:     "unknown service",
			conn:     &networkservice.Connection{NetworkService: "nope"},
			wantCode: codes.NotFound,
			wantMsg:  `network service "nope" not found`,
		},
		{
			name:     "no endpoint registered",
			ns:       &registry.NetworkService{Name: "svc"},
			conn:     &networkservice.Connection{NetworkService: "svc"},
			timeout:  300 * time.Millisecond,
			wantCode: codes.NotFound,
			wantMsg:  `no endpoint for network service "svc": none registered`,
		},
		{
			name:     "only expired endpoints count as none registered",
			ns:       &registry.NetworkService{Name: "svc"},
			nses:     []*registry.NetworkServiceEndpoint{expired},
			conn:     &networkservice.Connection{NetworkService: "svc"},
			timeout:  300 * time.Millisecond,
			wantCode: codes.NotFound,
			wantMsg:  "none registered",
		},
		{
			name: "no endpoint matches",
			ns: &registry.NetworkService{Name: "svc", Matches: []*registry.Match{{
				Routes: []*registry.Destination{{DestinationSelector: map[string]string{"app": "db"}}},
			}}},
			nses:     []*registry.NetworkServiceEndpoint{nse("a", map[string]string{"app": "fw"})},
			conn:     &networkservice.Connection{NetworkService: "svc", Labels: map[string]string{"x": "y"}},
			timeout:  300 * time.Millisecond,
			wantCode: codes.NotFound,
			wantMsg:  `no endpoint for network service "svc": none matches labels map[x:y]`,
		},
		{
			name: "malformed selector",
			ns: &registry.NetworkService{Name: "svc", Matches: []*registry.Match{{
				Routes: []*registry.Destination{{DestinationSelector: map[string]string{"app": "{{.app"}}},
			}}},
			nses:     []*registry.NetworkServiceEndpoint{nse("a", map[string]string{"app": "fw"})},
			conn:     &networkservice.Connection{NetworkService: "svc"},
			wantCode: codes.InvalidArgument,
			wantMsg:  "malformed selector",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := fakes.NewRegistry()
			if tt.ns != nil {
				reg.AddNS(tt.ns)
			}
			for _, n := range tt.nses {
				reg.AddNSE(n)
			}
			srv, c := newServer(t, reg, now)
			timeout := tt.timeout
			if timeout == 0 {
				timeout = 5 * time.Second
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			if tt.preset != "" {
				ctx = clienturlctx.WithClientURL(ctx, mustURL(t, tt.preset))
			}
			start := time.Now()
			conn := tt.conn.Clone()
			conn.Id = "c1"
			_, err := srv.Request(ctx, &networkservice.NetworkServiceRequest{Connection: conn})
			if got := status.Code(err); got != tt.wantCode {
				t.Fatalf("code = %s (%v), want %s", got, err, tt.wantCode)
			}
			if err != nil {
				if !strings.Contains(err.Error(), tt.wantMsg) {
					t.Fatalf("error %q does not say %q", err, tt.wantMsg)
				}
				if c.calls != 0 {
					t.Fatal("next element ran after a failure")
				}
				if tt.timeout > 0 && time.Since(start) >= tt.timeout {
					t.Fatal("NotFound came only at the caller's deadline; the reserve is missing")
				}
				return
			}
			if c.url != tt.wantURL {
				t.Fatalf("next saw URL %q, want %q", c.url, tt.wantURL)
			}
			if !slices.Equal(c.candidates, tt.wantCandidates) {
				t.Fatalf("candidates %v, want %v", c.candidates, tt.wantCandidates)
			}
			if tt.wantPayload != "" && c.payload != tt.wantPayload {
				t.Fatalf("payload %q, want %q", c.payload, tt.wantPayload)
			}
		})
	}
}

func TestDiscoverWaitsForLateEndpoint(t *testing.T) {
	tests := []struct {
		name   string
		first  *registry.NetworkServiceEndpoint // registered before, not matching
		late   *registry.NetworkServiceEndpoint
		labels map[string]string
	}{
		{name: "none registered yet", late: nse("late", map[string]string{"app": "fw"})},
		{name: "none matching yet", first: nse("early", map[string]string{"app": "db"}), late: nse("late", map[string]string{"app": "fw"})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := fakes.NewRegistry()
			reg.AddNS(&registry.NetworkService{Name: "svc", Matches: []*registry.Match{{
				Routes: []*registry.Destination{{DestinationSelector: map[string]string{"app": "fw"}}},
			}}})
			if tt.first != nil {
				reg.AddNSE(tt.first)
			}
			srv, c := newServer(t, reg, time.Now())
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			done := make(chan error, 1)
			go func() {
				_, err := srv.Request(ctx, &networkservice.NetworkServiceRequest{Connection: &networkservice.Connection{Id: "c1", NetworkService: "svc"}})
				done <- err
			}()
			// Register only once the element is watching.
			deadline := time.Now().Add(3 * time.Second)
			for reg.Watchers() == 0 {
				if time.Now().After(deadline) {
					t.Fatal("discover never watched the registry")
				}
				time.Sleep(5 * time.Millisecond)
			}
			reg.AddNSE(tt.late)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(c.candidates, []string{"late"}) {
				t.Fatalf("candidates %v, want [late]", c.candidates)
			}
			if reg.Watchers() != 0 {
				t.Fatal("the watch stream was left open")
			}
		})
	}
}

func TestDiscoverClose(t *testing.T) {
	tests := []struct {
		name    string
		nseName string
		preset  string
		wantURL string
	}{
		{name: "endpoint URL looked up by name", nseName: "a", wantURL: "unix:///run/a.sock"},
		{name: "endpoint gone: Close still continues", nseName: "gone", wantURL: ""},
		{name: "no endpoint name", wantURL: ""},
		{name: "chosen URL kept", nseName: "a", preset: "tcp://10.0.0.9:1", wantURL: "tcp://10.0.0.9:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := fakes.NewRegistry()
			reg.AddNSE(nse("a", nil))
			srv, c := newServer(t, reg, time.Now())
			ctx := context.Background()
			if tt.preset != "" {
				ctx = clienturlctx.WithClientURL(ctx, mustURL(t, tt.preset))
			}
			if _, err := srv.Close(ctx, &networkservice.Connection{Id: "c1", NetworkServiceEndpointName: tt.nseName}); err != nil {
				t.Fatal(err)
			}
			if c.calls != 1 || c.url != tt.wantURL {
				t.Fatalf("next ran %d times with URL %q; want once with %q", c.calls, c.url, tt.wantURL)
			}
		})
	}
}

func TestDiscoverRegistryErrors(t *testing.T) {
	reg := fakes.NewRegistry()
	reg.SetFindError(status.Error(codes.Unavailable, "registry down"))
	srv, _ := newServer(t, reg, time.Now())
	_, err := srv.Request(context.Background(), &networkservice.NetworkServiceRequest{Connection: &networkservice.Connection{Id: "c1", NetworkService: "svc"}})
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "registry down") {
		t.Fatalf("want the registry's Unavailable, got %v", err)
	}
	if _, err := discover.NewServer(nil, reg.NSE()); err == nil {
		t.Fatal("NewServer accepted a nil client")
	}
}

// The registry loses the endpoint of an established connection (it
// restarted empty) or cannot be asked: the refresh and the Close still go to
// where the connection was; a connection that never reached the endpoint
// still gets NotFound.
func TestDiscoverRegistryLostEndpoint(t *testing.T) {
	for _, tt := range []struct {
		name string
		lose func(*fakes.Registry)
	}{
		{"registry restarted empty", func(r *fakes.Registry) { r.RemoveNSE("a") }},
		{"registry unreachable", func(r *fakes.Registry) { r.SetFindError(status.Error(codes.Unavailable, "registry down")) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			reg := fakes.NewRegistry()
			reg.AddNS(&registry.NetworkService{Name: "svc"})
			reg.AddNSE(nse("a", nil))
			d, err := discover.NewServer(reg.NS(), reg.NSE())
			if err != nil {
				t.Fatal(err)
			}
			c := &capture{}
			srv := chain.NewServer(begin.NewServer(), d, &pick{}, c)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			conn, err := srv.Request(ctx, &networkservice.NetworkServiceRequest{Connection: &networkservice.Connection{Id: "c1", NetworkService: "svc"}})
			if err != nil {
				t.Fatal(err)
			}
			tt.lose(reg)
			if _, err := srv.Request(ctx, &networkservice.NetworkServiceRequest{Connection: conn.Clone()}); err != nil {
				t.Fatalf("refresh after the registry lost the endpoint: %v", err)
			}
			if c.url != "unix:///run/a.sock" {
				t.Fatalf("refresh went to %q, want the endpoint's last URL", c.url)
			}
			other := conn.Clone()
			other.Id = "c2"
			if _, err := srv.Request(ctx, &networkservice.NetworkServiceRequest{Connection: other}); err == nil {
				t.Fatal("a connection that never reached the endpoint was served without the registry")
			}
			if _, err := srv.Close(ctx, conn); err != nil {
				t.Fatal(err)
			}
			if c.url != "unix:///run/a.sock" {
				t.Fatalf("close went to %q, want the endpoint's last URL", c.url)
			}
		})
	}
}

// pick stands for roundrobin: it takes the first candidate.
type pick struct{ chain.ServerLink }

func (p *pick) Request(ctx context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	if cs := discover.CandidatesFromContext(ctx); cs != nil && clienturlctx.ClientURL(ctx) == nil && len(cs.Endpoints) > 0 {
		u, err := discover.EndpointURL(cs.Endpoints[0])
		if err != nil {
			return nil, err
		}
		req.GetConnection().NetworkServiceEndpointName = cs.Endpoints[0].GetName()
		ctx = clienturlctx.WithClientURL(ctx, u)
	}
	return p.Next().Request(ctx, req)
}

func (p *pick) Close(ctx context.Context, conn *networkservice.Connection) (*emptypb.Empty, error) {
	return p.Next().Close(ctx, conn)
}

// A client restarted with the same connection id, behind hops that lost the
// path too, sends a Request that names no endpoint: the connection stays at
// the endpoint it reached, unless the Request asks for a reselect.
func TestDiscoverKeepsEndpointOfKnownConnection(t *testing.T) {
	reg := fakes.NewRegistry()
	reg.AddNS(&registry.NetworkService{Name: "svc"})
	reg.AddNSE(nse("a", nil))
	reg.AddNSE(nse("b", nil))
	d, err := discover.NewServer(reg.NS(), reg.NSE())
	if err != nil {
		t.Fatal(err)
	}
	c := &capture{}
	srv := chain.NewServer(begin.NewServer(), d, &pick{}, c)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	fresh := func() *networkservice.NetworkServiceRequest {
		return &networkservice.NetworkServiceRequest{Connection: &networkservice.Connection{Id: "c1", NetworkService: "svc"}}
	}
	first, err := srv.Request(ctx, fresh())
	if err != nil {
		t.Fatal(err)
	}
	reached := first.GetNetworkServiceEndpointName()
	// An endpoint that a new choice would take.
	reg.AddNSE(nse("0", nil))

	again, err := srv.Request(ctx, fresh())
	if err != nil {
		t.Fatal(err)
	}
	if again.GetNetworkServiceEndpointName() != reached || c.candidates != nil || c.url != "unix:///run/"+reached+".sock" {
		t.Fatalf("the known connection went to %s (%s, candidates %v), want %s", again.GetNetworkServiceEndpointName(), c.url, c.candidates, reached)
	}

	reselect := fresh()
	reselect.Connection.State = networkservice.State_RESELECT_REQUESTED
	if _, err := srv.Request(ctx, reselect); err != nil {
		t.Fatal(err)
	}
	if len(c.candidates) != 3 {
		t.Fatalf("a reselect was offered %v, want every endpoint", c.candidates)
	}
	if _, err := srv.Close(ctx, again); err != nil {
		t.Fatal(err)
	}
}
