// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package discoverforwarder_test

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
	"github.com/nsmesh/nsmesh/sdk/networkservice/discoverforwarder"
	"github.com/nsmesh/nsmesh/sdk/tools/clienturlctx"
	"github.com/nsmesh/nsmesh/sdk/tools/fakes"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const nsmgrURL = "unix:///run/nsmgr.sock"

func forwarder(name string, labels map[string]string) *registry.NetworkServiceEndpoint {
	return &registry.NetworkServiceEndpoint{
		Name:                 name,
		NetworkServiceNames:  []string{"forwarder"},
		NetworkServiceLabels: map[string]*registry.NetworkServiceLabels{"forwarder": {Labels: labels}},
		// The nsmgr registers its own URL centrally; the fake keeps the
		// query's substring rule, so carry it in the URL.
		Url: "unix:///run/" + name + ".sock?via=" + nsmgrURL,
	}
}

// fwdName turns the URL a call carried back into the forwarder's name.
func fwdName(ctx context.Context) string {
	u := clienturlctx.ClientURL(ctx)
	if u == nil {
		return ""
	}
	return strings.TrimSuffix(strings.TrimPrefix(u.Path, "/run/"), ".sock")
}

// forwarders stands for connect: it records which forwarder each call went
// to and fails for those in down.
type forwarders struct {
	down     map[string]bool
	requests []string
	closes   []string
}

func (f *forwarders) Request(ctx context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	name := fwdName(ctx)
	f.requests = append(f.requests, name)
	if f.down[name] {
		return nil, status.Errorf(codes.Unavailable, "%s is down", name)
	}
	return req.GetConnection(), nil
}

func (f *forwarders) Close(ctx context.Context, _ *networkservice.Connection) (*emptypb.Empty, error) {
	f.closes = append(f.closes, fwdName(ctx))
	return &emptypb.Empty{}, nil
}

type env struct {
	reg *fakes.Registry
	fwd *forwarders
	srv networkservice.NetworkServiceServer
}

func newEnv(t *testing.T, ns *registry.NetworkService, fwds ...*registry.NetworkServiceEndpoint) *env {
	t.Helper()
	e := &env{reg: fakes.NewRegistry(), fwd: &forwarders{down: map[string]bool{}}}
	e.reg.AddNS(ns)
	for _, f := range fwds {
		e.reg.AddNSE(f)
	}
	// Endpoints of other services and forwarders of another nsmgr must never be picked.
	e.reg.AddNSE(&registry.NetworkServiceEndpoint{Name: "nse", NetworkServiceNames: []string{"svc"}, Url: "unix:///run/nse.sock?via=" + nsmgrURL})
	other := forwarder("elsewhere", map[string]string{"p2p": "true"})
	other.Url = "tcp://10.0.0.2:5001"
	e.reg.AddNSE(other)
	df, err := discoverforwarder.NewServer(e.reg.NS(), e.reg.NSE(), discoverforwarder.WithNSMgrURL(nsmgrURL))
	if err != nil {
		t.Fatal(err)
	}
	e.srv = chain.NewServer(begin.NewServer(), df, e.fwd)
	return e
}

func request(id string, labels map[string]string) *networkservice.NetworkServiceRequest {
	return &networkservice.NetworkServiceRequest{Connection: &networkservice.Connection{
		Id: id, NetworkService: "svc", Labels: labels,
		Path: &networkservice.Path{PathSegments: []*networkservice.PathSegment{{Name: "nsc", Id: "nsc-id"}, {Name: "nsmgr", Id: id}}, Index: 1},
	}}
}

func TestSelection(t *testing.T) {
	p2p := map[string]string{"p2p": "true"}
	tests := []struct {
		name     string
		matches  []*registry.Match
		fwds     []*registry.NetworkServiceEndpoint
		labels   map[string]string
		down     []string
		nextSeg  string
		want     []string // forwarders tried, in order
		wantCode codes.Code
		wantMsg  string
	}{
		{
			name: "no matches: any forwarder",
			fwds: []*registry.NetworkServiceEndpoint{forwarder("f1", nil), forwarder("f2", nil)},
			want: []string{"f1"},
		},
		{
			name:    "match without metadata requires p2p",
			matches: []*registry.Match{{}},
			fwds:    []*registry.NetworkServiceEndpoint{forwarder("f1", nil), forwarder("f2", p2p)},
			want:    []string{"f2"},
		},
		{
			name:    "metadata labels, templated",
			matches: []*registry.Match{{Metadata: &registry.Metadata{Labels: map[string]string{"nodeName": "{{.nodeName}}"}}}},
			fwds:    []*registry.NetworkServiceEndpoint{forwarder("f1", map[string]string{"nodeName": "n1"}), forwarder("f2", map[string]string{"nodeName": "n2"})},
			labels:  map[string]string{"nodeName": "n2"},
			want:    []string{"f2"},
		},
		{
			name: "source selector picks the match, fallthrough passes on",
			matches: []*registry.Match{
				{SourceSelector: map[string]string{"app": "other"}, Metadata: &registry.Metadata{Labels: map[string]string{"p2mp": "true"}}},
				{Fallthrough: true, Metadata: &registry.Metadata{Labels: map[string]string{"sriov": "true"}}},
				{SourceSelector: map[string]string{"app": "web"}, Metadata: &registry.Metadata{Labels: map[string]string{"p2mp": "true"}}},
			},
			fwds:   []*registry.NetworkServiceEndpoint{forwarder("f1", p2p), forwarder("f2", map[string]string{"p2mp": "true"})},
			labels: map[string]string{"app": "web"},
			want:   []string{"f2"},
		},
		{
			name:    "the forwarder on the path is preferred",
			fwds:    []*registry.NetworkServiceEndpoint{forwarder("f1", nil), forwarder("f2", nil), forwarder("f3", nil)},
			nextSeg: "f3",
			want:    []string{"f3"},
		},
		{
			name: "failed forwarder skipped",
			fwds: []*registry.NetworkServiceEndpoint{forwarder("f1", nil), forwarder("f2", nil)},
			down: []string{"f1"},
			want: []string{"f1", "f2"},
		},
		{
			name:     "all forwarders fail",
			fwds:     []*registry.NetworkServiceEndpoint{forwarder("f1", nil), forwarder("f2", nil)},
			down:     []string{"f1", "f2"},
			want:     []string{"f1", "f2"},
			wantCode: codes.Unavailable,
			wantMsg:  "f1: f1 is down; f2: f2 is down",
		},
		{
			name:     "no candidates",
			matches:  []*registry.Match{{}},
			fwds:     []*registry.NetworkServiceEndpoint{forwarder("f1", nil)},
			wantCode: codes.NotFound,
			wantMsg:  `no forwarder candidates found for "svc"`,
		},
		{
			name:     "malformed selector",
			matches:  []*registry.Match{{Metadata: &registry.Metadata{Labels: map[string]string{"nodeName": "{{.nodeName"}}}},
			fwds:     []*registry.NetworkServiceEndpoint{forwarder("f1", map[string]string{"nodeName": "n"})},
			labels:   map[string]string{"nodeName": "n2"},
			wantCode: codes.InvalidArgument,
			wantMsg:  "malformed selector",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, &registry.NetworkService{Name: "svc", Matches: tt.matches}, tt.fwds...)
			for _, d := range tt.down {
				e.fwd.down[d] = true
			}
			req := request("c1", tt.labels)
			if tt.nextSeg != "" {
				req.Connection.Path.PathSegments = append(req.Connection.Path.PathSegments, &networkservice.PathSegment{Name: tt.nextSeg})
			}
			_, err := e.srv.Request(context.Background(), req)
			if status.Code(err) != tt.wantCode {
				t.Fatalf("code %s (%v), want %s", status.Code(err), err, tt.wantCode)
			}
			if err != nil && !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("error %q does not say %q", err, tt.wantMsg)
			}
			if !slices.Equal(e.fwd.requests, tt.want) {
				t.Fatalf("tried %v, want %v", e.fwd.requests, tt.want)
			}
		})
	}
}

func TestStickiness(t *testing.T) {
	e := newEnv(t, &registry.NetworkService{Name: "svc"}, forwarder("f1", nil), forwarder("f2", nil))
	ctx := context.Background()
	e.fwd.down["f1"] = true
	if _, err := e.srv.Request(ctx, request("c1", nil)); err != nil {
		t.Fatal(err)
	}
	// f1 is back: the connection stays on f2.
	e.fwd.down["f1"] = false
	if _, err := e.srv.Request(ctx, request("c1", nil)); err != nil {
		t.Fatal(err)
	}
	if want := []string{"f1", "f2", "f2"}; !slices.Equal(e.fwd.requests, want) {
		t.Fatalf("tried %v, want %v", e.fwd.requests, want)
	}

	// The registry loses the sticky forwarder (it restarted empty): the
	// refresh still goes to f2, where it was before.
	e.reg.RemoveNSE("f2")
	if _, err := e.srv.Request(ctx, request("c1", nil)); err != nil {
		t.Fatalf("refresh of a forwarder the registry lost: %v", err)
	}
	if got := e.fwd.requests[len(e.fwd.requests)-1]; got != "f2" {
		t.Fatalf("refresh went to %s, want f2", got)
	}
	// f2 is really gone: the refresh fails with a clear message.
	e.fwd.down["f2"] = true
	_, err := e.srv.Request(ctx, request("c1", nil))
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), `forwarder "f2" is not available`) {
		t.Fatalf("want Unavailable about f2, got %v", err)
	}

	// Reselect drops stickiness and finds f1.
	req := request("c1", nil)
	req.Connection.State = networkservice.State_RESELECT_REQUESTED
	if _, err := e.srv.Request(ctx, req); err != nil {
		t.Fatal(err)
	}
	if got := e.fwd.requests[len(e.fwd.requests)-1]; got != "f1" {
		t.Fatalf("reselect went to %s, want f1", got)
	}

	// Close goes to the sticky forwarder. The first Close is begin's, for
	// the old path on reselect: the registry lost f2, its last URL is used.
	if _, err := e.srv.Close(ctx, request("c1", nil).GetConnection()); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(e.fwd.closes, []string{"f2", "f1"}) {
		t.Fatalf("closes %v, want [f2 f1]", e.fwd.closes)
	}
}

func TestReselectIgnoresPathForwarder(t *testing.T) {
	e := newEnv(t, &registry.NetworkService{Name: "svc"}, forwarder("f1", nil), forwarder("f2", nil))
	req := request("c1", nil)
	req.Connection.Path.PathSegments = append(req.Connection.Path.PathSegments, &networkservice.PathSegment{Name: "f2"})
	req.Connection.State = networkservice.State_RESELECT_REQUESTED
	if _, err := e.srv.Request(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(e.fwd.requests, []string{"f1"}) {
		t.Fatalf("tried %v, want [f1]", e.fwd.requests)
	}
}

func TestCloseWithoutForwarder(t *testing.T) {
	// Neither the registry nor this nsmgr (restarted) knows where the path's
	// forwarder is: Close still goes down the chain.
	e := newEnv(t, &registry.NetworkService{Name: "svc"}, forwarder("f1", nil))
	conn := request("c1", nil).GetConnection()
	conn.Path.PathSegments = append(conn.Path.PathSegments, &networkservice.PathSegment{Name: "f-gone"})
	df, err := discoverforwarder.NewServer(e.reg.NS(), e.reg.NSE(), discoverforwarder.WithNSMgrURL(nsmgrURL))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chain.NewServer(df, e.fwd).Close(context.Background(), conn); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(e.fwd.closes, []string{""}) {
		t.Fatalf("closes %v, want one Close without URL", e.fwd.closes)
	}
}

// A registry that cannot be asked (restarting) does not fail the refresh of
// an established connection either.
func TestRegistryDownKeepsStickyForwarder(t *testing.T) {
	e := newEnv(t, &registry.NetworkService{Name: "svc"}, forwarder("f1", nil), forwarder("f2", nil))
	ctx := context.Background()
	if _, err := e.srv.Request(ctx, request("c1", nil)); err != nil {
		t.Fatal(err)
	}
	e.reg.SetFindError(status.Error(codes.Unavailable, "registry is restarting"))
	if _, err := e.srv.Request(ctx, request("c1", nil)); err != nil {
		t.Fatalf("refresh while the registry is down: %v", err)
	}
	if !slices.Equal(e.fwd.requests, []string{"f1", "f1"}) {
		t.Fatalf("tried %v, want [f1 f1]", e.fwd.requests)
	}
	// A new connection needs the registry.
	if _, err := e.srv.Request(ctx, request("c2", nil)); status.Code(err) != codes.Unavailable {
		t.Fatalf("new connection while the registry is down: %v, want Unavailable", err)
	}
	if _, err := e.srv.Close(ctx, request("c1", nil).GetConnection()); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(e.fwd.closes, []string{"f1"}) {
		t.Fatalf("closes %v, want [f1]", e.fwd.closes)
	}
}

func TestPathForwarderOnClose(t *testing.T) {
	// An nsmgr restart lost the sticky name: Close uses path[index+1].
	e := newEnv(t, &registry.NetworkService{Name: "svc"}, forwarder("f1", nil), forwarder("f2", nil))
	conn := request("c1", nil).GetConnection()
	conn.Path.PathSegments = append(conn.Path.PathSegments, &networkservice.PathSegment{Name: "f2"})
	df, err := discoverforwarder.NewServer(e.reg.NS(), e.reg.NSE(), discoverforwarder.WithNSMgrURL(nsmgrURL))
	if err != nil {
		t.Fatal(err)
	}
	srv := chain.NewServer(df, e.fwd)
	if _, err := srv.Close(context.Background(), conn); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(e.fwd.closes, []string{"f2"}) {
		t.Fatalf("closes %v, want [f2]", e.fwd.closes)
	}
}

func TestExpiredForwarderIgnored(t *testing.T) {
	now := time.Now()
	old := forwarder("f1", nil)
	old.ExpirationTime = timestamppb.New(now.Add(-time.Second))
	e := newEnv(t, &registry.NetworkService{Name: "svc"}, old, forwarder("f2", nil))
	if _, err := e.srv.Request(context.Background(), request("c1", nil)); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(e.fwd.requests, []string{"f2"}) {
		t.Fatalf("tried %v, want [f2]", e.fwd.requests)
	}
}

func TestConstructor(t *testing.T) {
	reg := fakes.NewRegistry()
	if _, err := discoverforwarder.NewServer(nil, reg.NSE()); err == nil {
		t.Fatal("nil client accepted")
	}
	if _, err := discoverforwarder.NewServer(reg.NS(), reg.NSE(), discoverforwarder.WithForwarderServiceName("")); err == nil {
		t.Fatal("empty service name accepted")
	}
}
