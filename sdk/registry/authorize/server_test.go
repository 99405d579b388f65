// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package authorize_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/registry/adapters"
	"github.com/nsmesh/nsmesh/sdk/registry/authorize"
	"github.com/nsmesh/nsmesh/sdk/registry/grpcmetadata"
	"github.com/nsmesh/nsmesh/sdk/registry/internal/regtest"
	"github.com/nsmesh/nsmesh/sdk/registry/memory"
	"github.com/nsmesh/nsmesh/sdk/token"
	"github.com/nsmesh/nsmesh/sdk/tools/fakes"
)

func wantDenied(t *testing.T, err error, parts ...string) {
	t.Helper()
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("got %v, want PermissionDenied", err)
	}
	for _, p := range parts {
		if !strings.Contains(status.Convert(err).Message(), p) {
			t.Fatalf("message %q does not name %q", status.Convert(err).Message(), p)
		}
	}
}

// A second identity can neither take over nor remove an endpoint; the owner
// can refresh and change it; once the owner unregisters, another may take
// the name.
func TestEndpointOwnership(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := newReg(t, ctx, time.Hour, authorize.NewNSServer(quiet()...), authorize.NewNSEServer(quiet()...))
	_, alice := r.as("alice")
	_, bob := r.as("bob")

	if _, err := alice.Register(ctx, &registry.NetworkServiceEndpoint{Name: "nse-1", Url: "tcp://alice:1"}); err != nil {
		t.Fatal(err)
	}
	_, err := bob.Register(ctx, &registry.NetworkServiceEndpoint{Name: "nse-1", Url: "tcp://bob:1"})
	wantDenied(t, err, `"nse-1"`, td+"alice", td+"bob", "may not register")
	// An identical endpoint is no exception: the name is alice's address.
	_, err = bob.Register(ctx, &registry.NetworkServiceEndpoint{Name: "nse-1", Url: "tcp://alice:1"})
	wantDenied(t, err, `"nse-1"`, td+"alice", td+"bob", "may not register")
	_, err = bob.Unregister(ctx, &registry.NetworkServiceEndpoint{Name: "nse-1"})
	wantDenied(t, err, `"nse-1"`, td+"alice", td+"bob", "may not unregister")
	if got := r.nses(); !maps.Equal(got, map[string]string{"nse-1": "tcp://alice:1"}) {
		t.Fatalf("after the refused calls the registry holds %v", got)
	}

	if _, err := alice.Register(ctx, &registry.NetworkServiceEndpoint{Name: "nse-1", Url: "tcp://alice:2"}); err != nil {
		t.Fatalf("owner's refresh: %v", err)
	}
	if got := r.nses(); got["nse-1"] != "tcp://alice:2" {
		t.Fatalf("owner's refresh not applied: %v", got)
	}
	if _, err := alice.Unregister(ctx, &registry.NetworkServiceEndpoint{Name: "nse-1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Register(ctx, &registry.NetworkServiceEndpoint{Name: "nse-1", Url: "tcp://bob:1"}); err != nil {
		t.Fatalf("free name refused: %v", err)
	}
	_, err = alice.Register(ctx, &registry.NetworkServiceEndpoint{Name: "nse-1", Url: "tcp://alice:3"})
	wantDenied(t, err, td+"bob", td+"alice")
	if got := r.nses(); got["nse-1"] != "tcp://bob:1" {
		t.Fatalf("registry holds %v, want bob's", got)
	}
}

// An endpoint that stops refreshing loses its name when its registration
// expires.
func TestExpiryFreesTheName(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := newReg(t, ctx, 300*time.Millisecond, authorize.NewNSServer(quiet()...), authorize.NewNSEServer(quiet()...))
	_, alice := r.as("alice")
	_, bob := r.as("bob")
	if _, err := alice.Register(ctx, &registry.NetworkServiceEndpoint{Name: "nse-1", Url: "tcp://alice:1"}); err != nil {
		t.Fatal(err)
	}
	_, err := bob.Register(ctx, &registry.NetworkServiceEndpoint{Name: "nse-1", Url: "tcp://bob:1"})
	wantDenied(t, err, td+"alice")
	regtest.Eventually(t, 5*time.Second, func() bool { return len(r.nses()) == 0 }, "alice's registration expires")
	if _, err := bob.Register(ctx, &registry.NetworkServiceEndpoint{Name: "nse-1", Url: "tcp://bob:1"}); err != nil {
		t.Fatalf("expired name refused: %v", err)
	}
	if got := r.nses(); got["nse-1"] != "tcp://bob:1" {
		t.Fatalf("registry holds %v, want bob's", got)
	}
}

func TestNetworkServiceOwnership(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := newReg(t, ctx, time.Hour, authorize.NewNSServer(quiet()...), authorize.NewNSEServer(quiet()...))
	alice, _ := r.as("alice")
	bob, _ := r.as("bob")
	if _, err := alice.Register(ctx, &registry.NetworkService{Name: "red", Payload: "IP"}); err != nil {
		t.Fatal(err)
	}
	_, err := bob.Register(ctx, &registry.NetworkService{Name: "red", Payload: "ETHERNET"})
	wantDenied(t, err, `network service "red"`, td+"alice", td+"bob")
	_, err = bob.Unregister(ctx, &registry.NetworkService{Name: "red"})
	wantDenied(t, err, td+"alice")
	if got := r.nss(); !maps.Equal(got, map[string]string{"red": "IP"}) {
		t.Fatalf("registry holds %v", got)
	}
	if _, err := alice.Register(ctx, &registry.NetworkService{Name: "red", Payload: "ETHERNET"}); err != nil {
		t.Fatalf("owner's change: %v", err)
	}
	if _, err := alice.Unregister(ctx, &registry.NetworkService{Name: "red"}); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Register(ctx, &registry.NetworkService{Name: "red", Payload: "IP"}); err != nil {
		t.Fatalf("free name refused: %v", err)
	}
}

// Endpoints serving one network service may each register it, as long as
// they register it exactly as it is: the owner stays the owner, keeps the
// sole right to change or unregister it, and hands it over only by
// unregistering it.
func TestSharedNetworkService(t *testing.T) {
	red := &registry.NetworkService{Name: "red", Payload: "IP", Matches: []*registry.Match{{
		SourceSelector: map[string]string{"app": "web"},
		Routes:         []*registry.Destination{{DestinationSelector: map[string]string{"tier": "1"}}},
	}}}
	with := func(change func(*registry.NetworkService)) *registry.NetworkService {
		ns := proto.Clone(red).(*registry.NetworkService)
		change(ns)
		return ns
	}
	ethernet := with(func(ns *registry.NetworkService) { ns.Payload = "ETHERNET" })
	bare := with(func(ns *registry.NetworkService) { ns.Payload = "" }) // the registry answers with IP
	type step struct {
		who        string
		unregister bool
		ns         *registry.NetworkService
		denied     []string // parts of the PermissionDenied message; nil allows
	}
	notAlice := []string{`network service "red" belongs to ` + td + "alice", "others may only register it again exactly as it is"}
	tests := []struct {
		name  string
		steps []step
		want  string // the payload registered in the end; "" for none
	}{
		{name: "identical by another identity", steps: []step{
			{who: "alice", ns: red},
			{who: "bob", ns: red},
			{who: "bob", ns: red}, // and again: heal re-registers
		}, want: "IP"},
		{name: "path_ids do not count", steps: []step{
			{who: "alice", ns: red},
			{who: "bob", ns: with(func(ns *registry.NetworkService) { ns.PathIds = []string{td + "mallory", "", td + "elsewhere"} })},
		}, want: "IP"},
		{name: "as the owner sent it or as the registry answered", steps: []step{
			{who: "alice", ns: bare},
			{who: "bob", ns: red}, // what a heal registers again
			{who: "carol", ns: bare},
			{who: "bob", ns: ethernet, denied: notAlice},
		}, want: "IP"},
		{name: "anonymous and identical", steps: []step{
			{who: "alice", ns: red},
			{who: "", ns: red},
		}, want: "IP"},
		{name: "another payload", steps: []step{
			{who: "alice", ns: red},
			{who: "bob", ns: ethernet, denied: append(notAlice, td+"bob may not register")},
		}, want: "IP"},
		{name: "other matches", steps: []step{
			{who: "alice", ns: red},
			{who: "bob", ns: with(func(ns *registry.NetworkService) { ns.Matches[0].Routes[0].DestinationSelector["tier"] = "2" }), denied: notAlice},
			{who: "bob", ns: with(func(ns *registry.NetworkService) { ns.Matches[0].Fallthrough = true }), denied: notAlice},
			{who: "bob", ns: with(func(ns *registry.NetworkService) { ns.Matches = nil }), denied: notAlice},
		}, want: "IP"},
		{name: "a co-registrant does not own it", steps: []step{
			{who: "alice", ns: red},
			{who: "bob", ns: red},
			{who: "bob", ns: ethernet, denied: notAlice},
			{who: "bob", unregister: true, ns: red, denied: append(notAlice, td+"bob may not unregister")},
			{who: "alice", ns: ethernet},
		}, want: "ETHERNET"},
		{name: "the owner's change cannot be undone by others", steps: []step{
			{who: "alice", ns: red},
			{who: "bob", ns: red},
			{who: "alice", ns: ethernet},
			{who: "bob", ns: red, denied: notAlice},
			{who: "bob", ns: ethernet},
		}, want: "ETHERNET"},
		{name: "the owner unregisters: the next registrant owns it", steps: []step{
			{who: "alice", ns: red},
			{who: "bob", ns: red},
			{who: "alice", unregister: true, ns: red},
			{who: "bob", ns: red},
			{who: "alice", ns: ethernet, denied: []string{"belongs to " + td + "bob", td + "alice may not register"}},
			{who: "alice", ns: red},
			{who: "alice", unregister: true, ns: red, denied: []string{"belongs to " + td + "bob", td + "alice may not unregister"}},
			{who: "bob", unregister: true, ns: red},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			r := newReg(t, ctx, time.Hour, authorize.NewNSServer(quiet()...), authorize.NewNSEServer(quiet()...))
			for i, s := range tt.steps {
				c, _ := r.as(s.who)
				var err error
				if s.unregister {
					_, err = c.Unregister(ctx, s.ns)
				} else {
					_, err = c.Register(ctx, s.ns)
				}
				switch {
				case s.denied == nil && err != nil:
					t.Fatalf("step %d (%s): %v", i, s.who, err)
				case s.denied != nil:
					wantDenied(t, err, s.denied...)
				}
			}
			want := map[string]string{}
			if tt.want != "" {
				want["red"] = tt.want
			}
			if got := r.nss(); !maps.Equal(got, want) {
				t.Fatalf("registry holds %v, want %v", got, want)
			}
		})
	}
}

// After another identity registered the same network service, policies see
// the owner and the path_ids of the owner's own last registration; the
// registry holds the path of the latest.
func TestSharedNetworkServiceInput(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var seen []string
	record := authorize.NewPolicy("record", func(_ context.Context, in *authorize.Input) error {
		seen = append(seen, fmt.Sprintf("%s owner=%s ids=%v unchanged=%v", in.ResourceID, in.Owner, in.OwnerPathIDs, in.Unchanged))
		return nil
	})
	authz := authorize.NewNSServer(quiet(authorize.WithAdditionalPolicies(record))...)
	c := adapters.NSServerToClient(chain.NewNSServer(authz, memory.NewNSServer(ctx)))
	as := func(id string) context.Context { return grpcmetadata.WithPath(ctx, pathOf(t, id)) }
	ns := func(ids ...string) *registry.NetworkService {
		return &registry.NetworkService{Name: "red", Payload: "IP", PathIds: ids}
	}
	if _, err := c.Register(as("alice"), ns(td+"alice", td+"nsmgr")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Register(as("bob"), ns(td+"bob", td+"nsmgr")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Register(as("alice"), ns(td+"alice", td+"nsmgr-2")); err != nil {
		t.Fatal(err)
	}
	want := []string{
		td + "alice owner= ids=[] unchanged=false",
		td + "bob owner=" + td + "alice ids=[" + td + "alice " + td + "nsmgr] unchanged=true",
		td + "alice owner=" + td + "alice ids=[" + td + "alice " + td + "nsmgr] unchanged=true",
	}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Fatalf("policies saw\n%q\nwant\n%q", seen, want)
	}
	s, err := c.Find(ctx, &registry.NetworkServiceQuery{NetworkService: &registry.NetworkService{Name: "red"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := regtest.All(t, s); len(got) != 1 || fmt.Sprint(got[0].GetNetworkService().GetPathIds()) != fmt.Sprint([]string{td + "alice", td + "nsmgr-2"}) {
		t.Fatalf("registry holds %v", got)
	}
}

// Callers without a token act as one anonymous identity: they cannot touch
// names of identified owners, and identified callers cannot touch theirs.
func TestAnonymous(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := newReg(t, ctx, time.Hour, authorize.NewNSServer(quiet()...), authorize.NewNSEServer(quiet()...))
	_, anon := r.as("")
	_, alice := r.as("alice")
	if _, err := alice.Register(ctx, &registry.NetworkServiceEndpoint{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := anon.Register(ctx, &registry.NetworkServiceEndpoint{Name: "x"}); err != nil {
		t.Fatal(err)
	}
	if _, err := anon.Register(ctx, &registry.NetworkServiceEndpoint{Name: "x", Url: "tcp://x:2"}); err != nil {
		t.Fatalf("anonymous refresh: %v", err)
	}
	_, err := anon.Unregister(ctx, &registry.NetworkServiceEndpoint{Name: "a"})
	wantDenied(t, err, "anonymous")
	_, err = alice.Register(ctx, &registry.NetworkServiceEndpoint{Name: "x"})
	wantDenied(t, err, "anonymous", td+"alice")
}

// Many identities race for one free name: exactly one wins and owns it,
// although the rest of the chain takes a while.
func TestRaceForAFreeName(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store := memory.NewNSEServer(ctx)
	c := adapters.NSEServerToClient(chain.NewNSEServer(authorize.NewNSEServer(quiet()...), &slow{d: 20 * time.Millisecond}, store))
	const n = 8
	paths := make([]*grpcmetadata.Path, n)
	for i := range paths {
		paths[i] = pathOf(t, fmt.Sprintf("racer-%d", i))
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range paths {
		wg.Go(func() {
			_, errs[i] = c.Register(grpcmetadata.WithPath(ctx, paths[i]), &registry.NetworkServiceEndpoint{Name: "prize", Url: fmt.Sprintf("tcp://racer:%d", i)})
		})
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("racers %d and %d both won", winner, i)
		case err == nil:
			winner = i
		case status.Code(err) != codes.PermissionDenied:
			t.Fatalf("racer %d: %v", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("nobody won")
	}
	s, err := c.Find(ctx, &registry.NetworkServiceEndpointQuery{NetworkServiceEndpoint: &registry.NetworkServiceEndpoint{Name: "prize"}})
	if err != nil {
		t.Fatal(err)
	}
	got := regtest.All(t, s)
	if len(got) != 1 || got[0].GetNetworkServiceEndpoint().GetUrl() != fmt.Sprintf("tcp://racer:%d", winner) {
		t.Fatalf("registry holds %v, winner was %d", got, winner)
	}
}

// The owner table uses the expiration_time the chain answered with and the
// clock of WithClock; it forgets names on expiry and on Unregister.
func TestOwnerTable(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }

	authz := authorize.NewNSEServer(quiet(authorize.WithClock(clock))...)
	// The store answers with an expiration_time a minute after the clock.
	stamp := &stampExpiry{now: clock, d: time.Minute}
	srv := chain.NewNSEServer(authz, stamp, memory.NewNSEServer(ctx))
	c := adapters.NSEServerToClient(srv)
	as := func(id string) context.Context { return grpcmetadata.WithPath(ctx, pathOf(t, id)) }

	if _, err := c.Register(as("alice"), &registry.NetworkServiceEndpoint{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	if n := authz.(interface{ Owners() int }).Owners(); n != 1 {
		t.Fatalf("%d owners, want 1", n)
	}
	advance(59 * time.Second)
	_, err := c.Register(as("bob"), &registry.NetworkServiceEndpoint{Name: "a"})
	wantDenied(t, err, td+"alice")
	advance(time.Second)
	if _, err := c.Register(as("bob"), &registry.NetworkServiceEndpoint{Name: "a"}); err != nil {
		t.Fatalf("at expiry: %v", err)
	}
	if _, err := c.Unregister(as("bob"), &registry.NetworkServiceEndpoint{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	if n := authz.(interface{ Owners() int }).Owners(); n != 0 {
		t.Fatalf("%d owners after Unregister, want 0", n)
	}
	// Expired names are swept by later registrations of other names.
	for i := range 3 {
		if _, err := c.Register(as("alice"), &registry.NetworkServiceEndpoint{Name: fmt.Sprint("n", i)}); err != nil {
			t.Fatal(err)
		}
	}
	advance(2 * time.Minute)
	if _, err := c.Register(as("alice"), &registry.NetworkServiceEndpoint{Name: "late"}); err != nil {
		t.Fatal(err)
	}
	if n := authz.(interface{ Owners() int }).Owners(); n != 1 {
		t.Fatalf("%d owners after the sweep, want 1", n)
	}
}

// Additional policies run after the defaults and keep their status code;
// Any and WithPolicies replace the defaults.
func TestPolicyOptions(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var seen []string
	record := authorize.NewPolicy("record", func(_ context.Context, in *authorize.Input) error {
		seen = append(seen, fmt.Sprintf("%s %s owned=%v by %s path=%d", in.ResourceName, in.ResourceID, in.Owned, in.Owner, len(in.Path.PathSegments)))
		return nil
	})
	broken := authorize.NewPolicy("broken", func(context.Context, *authorize.Input) error {
		return status.Error(codes.Internal, "cannot evaluate")
	})
	denyAll := authorize.NewPolicy("deny_all", func(context.Context, *authorize.Input) error { return errors.New("closed today") })

	tests := []struct {
		name     string
		opts     []authorize.Option
		caller   string
		wantCode codes.Code
		wantMsg  string
		wantSeen []string
	}{
		{name: "additional runs after ownership allowed", opts: []authorize.Option{authorize.WithAdditionalPolicies(record)}, caller: "alice",
			wantSeen: []string{"n " + td + "alice owned=true by " + td + "alice path=2"}},
		{name: "additional does not run after a denial", opts: []authorize.Option{authorize.WithAdditionalPolicies(record)}, caller: "bob",
			wantCode: codes.PermissionDenied, wantMsg: "policy first_registrant"},
		{name: "an evaluation error keeps its code", opts: []authorize.Option{authorize.WithAdditionalPolicies(broken)}, caller: "alice",
			wantCode: codes.Internal, wantMsg: "registry authorize: policy broken: cannot evaluate"},
		{name: "WithPolicies replaces ownership", opts: []authorize.Option{authorize.WithPolicies(record)}, caller: "bob",
			wantSeen: []string{"n " + td + "bob owned=true by " + td + "alice path=2"}},
		{name: "a plain error denies", opts: []authorize.Option{authorize.WithAdditionalPolicies(denyAll)}, caller: "alice",
			wantCode: codes.PermissionDenied, wantMsg: "policy deny_all: closed today"},
		{name: "Any lets anyone", opts: []authorize.Option{authorize.Any()}, caller: "bob"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen = nil
			authz := authorize.NewNSEServer(quiet(tt.opts...)...)
			c := adapters.NSEServerToClient(chain.NewNSEServer(authz, memory.NewNSEServer(ctx)))
			// alice registers first, unchecked by the recording policy's view
			if _, err := c.Register(grpcmetadata.WithPath(ctx, pathOf(t, "alice")), &registry.NetworkServiceEndpoint{Name: "n"}); err != nil && tt.wantCode != codes.Internal && tt.name != "a plain error denies" {
				t.Fatal(err)
			}
			seen = nil
			_, err := c.Register(grpcmetadata.WithPath(ctx, pathOf(t, tt.caller)), &registry.NetworkServiceEndpoint{Name: "n"})
			if status.Code(err) != tt.wantCode || !strings.Contains(status.Convert(err).Message(), tt.wantMsg) {
				t.Fatalf("got %v, want %v %q", err, tt.wantCode, tt.wantMsg)
			}
			if fmt.Sprint(seen) != fmt.Sprint(tt.wantSeen) {
				t.Fatalf("policy saw %q, want %q", seen, tt.wantSeen)
			}
		})
	}
}

// With TLS, the caller's token must be signed by the caller's certificate
// and name it as its sub; its aud must name this server.
func TestCallerTokenSigned(t *testing.T) {
	ca, err := fakes.NewSPIFFECA("test.com")
	if err != nil {
		t.Fatal(err)
	}
	issue := func(id string) *fakes.SVID {
		s, err := ca.Issue("spiffe://test.com/"+id, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	alice, mallory, reg, other := issue("alice"), issue("mallory"), issue("registry"), issue("other-registry")
	tok := func(signer *fakes.SVID, sub string, aud ...string) string {
		s, err := token.Sign(signer.Key, token.Claims{Subject: sub, Audience: aud, Expires: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	own := tok(reg, reg.ID, alice.ID)
	tests := []struct {
		name    string
		peer    *fakes.SVID
		token   string
		own     string // this hop's token at path[1]
		want    codes.Code
		wantMsg string
	}{
		{name: "own token", peer: alice, token: tok(alice, alice.ID)},
		{name: "own token for this server", peer: alice, token: tok(alice, alice.ID, reg.ID), own: own},
		{name: "token signed with another key", peer: alice, token: tok(mallory, alice.ID), want: codes.PermissionDenied,
			wantMsg: "policy caller_token_signed: the caller's token at path 0 is not signed by its certificate (spiffe://test.com/alice)"},
		{name: "own key, another identity's sub", peer: mallory, token: tok(mallory, alice.ID, reg.ID), own: own, want: codes.PermissionDenied,
			wantMsg: "policy caller_token_signed: the caller's token at path 0 claims sub spiffe://test.com/alice, but the caller's certificate is spiffe://test.com/mallory"},
		{name: "token made for another server", peer: alice, token: tok(alice, alice.ID, other.ID), own: own, want: codes.PermissionDenied,
			wantMsg: "policy tokens_chained: the token at path 0 (sub spiffe://test.com/alice) is for [spiffe://test.com/other-registry], but this registry server at path 1 is spiffe://test.com/registry"},
		{name: "no token", peer: alice, want: codes.PermissionDenied, wantMsg: "presented a certificate but no token"},
		{name: "no TLS: signature cannot apply", token: tok(mallory, alice.ID)},
		{name: "no TLS: audience still checked", token: tok(alice, alice.ID, other.ID), own: own, want: codes.PermissionDenied,
			wantMsg: "policy tokens_chained"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			store := memory.NewNSEServer(ctx)
			c := adapters.NSEServerToClient(chain.NewNSEServer(authorize.NewNSEServer(quiet()...), store))
			// alice owns nse-1, so that only the token checks can deny alice.
			if _, err := c.Register(grpcmetadata.WithPath(ctx, &grpcmetadata.Path{Index: 1, PathSegments: []*grpcmetadata.PathSegment{{Token: tok(alice, alice.ID)}, {}}}),
				&registry.NetworkServiceEndpoint{Name: "nse-1", Url: "tcp://alice:1"}); err != nil {
				t.Fatal(err)
			}
			for _, unregister := range []bool{false, true} {
				callCtx := grpcmetadata.WithPath(ctx, &grpcmetadata.Path{Index: 1, PathSegments: []*grpcmetadata.PathSegment{{Token: tt.token}, {Token: tt.own}}})
				if tt.peer != nil {
					callCtx = peer.NewContext(callCtx, &peer.Peer{AuthInfo: tt.peer.AuthInfo()})
				}
				url := "tcp://alice:1"
				if unregister {
					_, err = c.Unregister(callCtx, &registry.NetworkServiceEndpoint{Name: "nse-1"})
				} else {
					url = "tcp://changed:1"
					_, err = c.Register(callCtx, &registry.NetworkServiceEndpoint{Name: "nse-1", Url: url})
				}
				if status.Code(err) != tt.want || !strings.Contains(status.Convert(err).Message(), tt.wantMsg) {
					t.Fatalf("unregister=%v: got %v, want %v %q", unregister, err, tt.want, tt.wantMsg)
				}
				// A denied call changes nothing.
				s, err := c.Find(ctx, &registry.NetworkServiceEndpointQuery{NetworkServiceEndpoint: &registry.NetworkServiceEndpoint{Name: "nse-1"}})
				if err != nil {
					t.Fatal(err)
				}
				got := regtest.All(t, s)
				switch {
				case tt.want == codes.OK && unregister && len(got) != 0:
					t.Fatalf("allowed Unregister left %v", got)
				case tt.want != codes.OK && (len(got) != 1 || got[0].GetNetworkServiceEndpoint().GetUrl() != "tcp://alice:1"):
					t.Fatalf("after the denied call the registry holds %v", got)
				}
			}
		})
	}
}

// TokensChained: every token up to this hop is a JWT, and a token naming
// audiences names the next hop's sub, this server's own token included.
func TestTokensChained(t *testing.T) {
	tok := func(sub string, aud ...string) string {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		s, err := token.Sign(key, token.Claims{Subject: td + sub, Audience: prefixed(aud), Expires: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	path := func(index uint32, toks ...string) *grpcmetadata.Path {
		p := &grpcmetadata.Path{Index: index}
		for _, s := range toks {
			p.PathSegments = append(p.PathSegments, &grpcmetadata.PathSegment{Token: s})
		}
		return p
	}
	tests := []struct {
		name    string
		path    *grpcmetadata.Path
		wantErr string // substring; "" allows
	}{
		{name: "direct", path: path(1, tok("nse", "registry"), tok("registry", "nse"))},
		{name: "forwarded by an nsmgr", path: path(2, tok("nse", "nsmgr"), tok("nsmgr", "registry"), tok("registry", "nsmgr"))},
		{name: "plaintext tokens have no aud", path: path(2, tok("nse"), tok("nsmgr"), tok("registry"))},
		{name: "no own token: the last link cannot be checked", path: path(1, tok("nse", "elsewhere"), "")},
		{name: "no tokens", path: path(2, "", "", "")},
		{name: "caller's token for another server", path: path(2, tok("nse", "nsmgr"), tok("nsmgr", "elsewhere"), tok("registry", "nsmgr")),
			wantErr: "the token at path 1 (sub " + td + "nsmgr) is for [" + td + "elsewhere], but this registry server at path 2 is " + td + "registry"},
		{name: "registrant's token for another forwarder", path: path(2, tok("nse", "nsmgr-2"), tok("nsmgr", "registry"), tok("registry", "nsmgr")),
			wantErr: "the token at path 0 (sub " + td + "nse) is for [" + td + "nsmgr-2], but the next hop at path 1 is " + td + "nsmgr"},
		{name: "not a JWT", path: path(2, "garbage", tok("nsmgr", "registry"), tok("registry", "nsmgr")), wantErr: "the token at path 0 is not a JWT"},
		{name: "right of the index is not checked", path: path(1, tok("nse", "registry"), tok("registry", "nse"), "garbage")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A client hands its policies the whole path.
			in := &authorize.Input{Path: tt.path}
			err := authorize.TokensChained().Check(context.Background(), in)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("denied: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func prefixed(names []string) []string {
	var out []string
	for _, n := range names {
		out = append(out, td+n)
	}
	return out
}
