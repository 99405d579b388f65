// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package begin_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/core/metadata"
	"github.com/nsmesh/nsmesh/sdk/registry/begin"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorder is a server element that records what reaches it, can hold calls
// and can fail them.
type recorder struct {
	chain.NSEServerLink
	mu          sync.Mutex
	registered  []*registry.NetworkServiceEndpoint
	unregisterd []*registry.NetworkServiceEndpoint
	events      []begin.EventFactory
	inside      atomic.Int32
	maxInside   atomic.Int32
	hold        time.Duration
	fail        atomic.Bool
}

var seen = metadata.NewKey[int]("test.seen")

func (r *recorder) enter() func() {
	n := r.inside.Add(1)
	for {
		m := r.maxInside.Load()
		if n <= m || r.maxInside.CompareAndSwap(m, n) {
			break
		}
	}
	time.Sleep(r.hold)
	return func() { r.inside.Add(-1) }
}

func (r *recorder) Register(ctx context.Context, nse *registry.NetworkServiceEndpoint) (*registry.NetworkServiceEndpoint, error) {
	defer r.enter()()
	if r.fail.Load() {
		return nil, status.Error(codes.Unavailable, "injected")
	}
	n, _ := seen.Load(ctx, metadata.Server)
	seen.Store(ctx, metadata.Server, n+1)
	r.mu.Lock()
	r.registered = append(r.registered, nse)
	r.events = append(r.events, begin.FromContext(ctx))
	r.mu.Unlock()
	resp := &registry.NetworkServiceEndpoint{Name: nse.GetName(), Url: nse.GetUrl() + "#stored"}
	return resp, nil
}

func (r *recorder) Find(q *registry.NetworkServiceEndpointQuery, srv grpc.ServerStreamingServer[registry.NetworkServiceEndpointResponse]) error {
	return nil
}

func (r *recorder) Unregister(ctx context.Context, nse *registry.NetworkServiceEndpoint) (*emptypb.Empty, error) {
	defer r.enter()()
	r.mu.Lock()
	r.unregisterd = append(r.unregisterd, nse)
	r.mu.Unlock()
	return &emptypb.Empty{}, nil
}

func (r *recorder) lastEvents() begin.EventFactory {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.events[len(r.events)-1]
}

type lener interface{ Len() int }

func TestSameNameIsSerialisedOtherNamesRunInParallel(t *testing.T) {
	for _, tt := range []struct {
		name      string
		names     []string
		wantMax   int32
		wantAtMin int32
	}{
		{"one name", []string{"a", "a", "a", "a"}, 1, 1},
		{"four names", []string{"a", "b", "c", "d"}, 4, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{hold: 50 * time.Millisecond}
			srv := chain.NewNSEServer(begin.NewNSEServer(), rec)
			var wg sync.WaitGroup
			for _, n := range tt.names {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := srv.Register(context.Background(), &registry.NetworkServiceEndpoint{Name: n}); err != nil {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			got := rec.maxInside.Load()
			if got > tt.wantMax || got < tt.wantAtMin {
				t.Fatalf("at most %d calls ran at once, want between %d and %d", got, tt.wantAtMin, tt.wantMax)
			}
		})
	}
}

func TestMetadataLivesFromFirstRegisterToUnregister(t *testing.T) {
	rec := &recorder{}
	b := begin.NewNSEServer()
	srv := chain.NewNSEServer(b, rec)
	ctx := context.Background()

	rec.fail.Store(true)
	if _, err := srv.Register(ctx, &registry.NetworkServiceEndpoint{Name: "a"}); err == nil {
		t.Fatal("injected failure did not surface")
	}
	if n := b.(lener).Len(); n != 0 {
		t.Fatalf("a failed first Register left %d names", n)
	}
	rec.fail.Store(false)
	for range 3 {
		if _, err := srv.Register(ctx, &registry.NetworkServiceEndpoint{Name: "a"}); err != nil {
			t.Fatal(err)
		}
	}
	rec.fail.Store(true)
	if _, err := srv.Register(ctx, &registry.NetworkServiceEndpoint{Name: "a"}); err == nil {
		t.Fatal("injected failure did not surface")
	}
	if n := b.(lener).Len(); n != 1 {
		t.Fatalf("a failed refresh dropped the name: %d names", n)
	}
	rec.fail.Store(false)
	if _, err := srv.Unregister(ctx, &registry.NetworkServiceEndpoint{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	if n := b.(lener).Len(); n != 0 {
		t.Fatalf("Unregister left %d names", n)
	}
	// A new registration starts with fresh metadata.
	if _, err := srv.Register(ctx, &registry.NetworkServiceEndpoint{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	counts := &counter{}
	srv2 := chain.NewNSEServer(begin.NewNSEServer(), counts)
	for range 3 {
		_, _ = srv2.Register(ctx, &registry.NetworkServiceEndpoint{Name: "x"})
	}
	_, _ = srv2.Unregister(ctx, &registry.NetworkServiceEndpoint{Name: "x"})
	_, _ = srv2.Register(ctx, &registry.NetworkServiceEndpoint{Name: "x"})
	if want := []int{1, 2, 3, 1}; !equal(counts.seen, want) {
		t.Fatalf("per-name metadata counted %v, want %v", counts.seen, want)
	}
}

// counter counts Registers of a name in begin's metadata.
type counter struct {
	chain.NSEServerLink
	seen []int
}

func (c *counter) Register(ctx context.Context, nse *registry.NetworkServiceEndpoint) (*registry.NetworkServiceEndpoint, error) {
	n, _ := seen.Load(ctx, metadata.Server)
	seen.Store(ctx, metadata.Server, n+1)
	c.seen = append(c.seen, n+1)
	return nse, nil
}
func (c *counter) Find(*registry.NetworkServiceEndpointQuery, grpc.ServerStreamingServer[registry.NetworkServiceEndpointResponse]) error {
	return nil
}
func (c *counter) Unregister(context.Context, *registry.NetworkServiceEndpoint) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestUnregisterPassesTheStoredRegistration(t *testing.T) {
	rec := &recorder{}
	srv := chain.NewNSEServer(begin.NewNSEServer(), rec)
	ctx := context.Background()
	if _, err := srv.Register(ctx, &registry.NetworkServiceEndpoint{Name: "a", Url: "u"}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Unregister(ctx, &registry.NetworkServiceEndpoint{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	// Unknown names still reach the chain, with the caller's copy.
	if _, err := srv.Unregister(ctx, &registry.NetworkServiceEndpoint{Name: "b", Url: "caller"}); err != nil {
		t.Fatal(err)
	}
	if len(rec.unregisterd) != 2 || rec.unregisterd[0].GetUrl() != "u#stored" || rec.unregisterd[1].GetUrl() != "caller" {
		t.Fatalf("chain saw Unregister of %v", rec.unregisterd)
	}
}

func TestRegisterWithoutName(t *testing.T) {
	for _, srv := range []func() error{
		func() error {
			_, err := chain.NewNSEServer(begin.NewNSEServer()).Register(context.Background(), &registry.NetworkServiceEndpoint{})
			return err
		},
		func() error {
			_, err := chain.NewNSEClient(begin.NewNSEClient()).Register(context.Background(), &registry.NetworkServiceEndpoint{})
			return err
		},
	} {
		err := srv()
		if status.Code(err) != codes.InvalidArgument || status.Convert(err).Message() != "registry: network service endpoint has no name" {
			t.Fatalf("got %v", err)
		}
	}
	_, err := chain.NewNSServer(begin.NewNSServer()).Register(context.Background(), &registry.NetworkService{})
	if status.Code(err) != codes.InvalidArgument || status.Convert(err).Message() != "registry: network service has no name" {
		t.Fatalf("got %v", err)
	}
}

type ctxKey struct{}

func TestEvents(t *testing.T) {
	rec := &recorder{}
	b := begin.NewNSEServer()
	srv := chain.NewNSEServer(b, rec)
	ctx := context.WithValue(context.Background(), ctxKey{}, "from-register")
	if _, err := srv.Register(ctx, &registry.NetworkServiceEndpoint{Name: "a", Url: "u"}); err != nil {
		t.Fatal(err)
	}
	ev := rec.lastEvents()

	if err := <-ev.Register(begin.If(func(context.Context) bool { return false })); !errors.Is(err, begin.ErrSkipped) {
		t.Fatalf("event with a false condition: %v, want ErrSkipped", err)
	}
	var condSawMetadata bool
	if err := <-ev.Register(begin.If(func(ctx context.Context) bool {
		_, condSawMetadata = seen.Load(ctx, metadata.Server)
		return true
	})); err != nil {
		t.Fatal(err)
	}
	if !condSawMetadata {
		t.Fatal("the condition did not see the name's metadata")
	}
	if got := rec.registered[len(rec.registered)-1].GetUrl(); got != "u#stored" {
		t.Fatalf("Register event sent %q, want the stored registration", got)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if err := <-ev.Register(begin.CancelContext(cancelled)); !errors.Is(err, context.Canceled) {
		t.Fatalf("event with a cancelled context: %v", err)
	}
	if err := <-ev.Unregister(); err != nil {
		t.Fatal(err)
	}
	if n := b.(lener).Len(); n != 0 {
		t.Fatalf("Unregister event left %d names", n)
	}
	if err := <-ev.Register(); !errors.Is(err, begin.ErrClosed) {
		t.Fatalf("event after Unregister: %v, want ErrClosed", err)
	}
}

// valueChecker checks that events carry the values of the Register context.
type valueChecker struct {
	chain.NSEClientLink
	mu     sync.Mutex
	values []any
	events begin.EventFactory
}

func (v *valueChecker) Register(ctx context.Context, nse *registry.NetworkServiceEndpoint, _ ...grpc.CallOption) (*registry.NetworkServiceEndpoint, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.values = append(v.values, ctx.Value(ctxKey{}))
	v.events = begin.FromContext(ctx)
	return nse, nil
}
func (v *valueChecker) Find(ctx context.Context, _ *registry.NetworkServiceEndpointQuery, _ ...grpc.CallOption) (registry.NetworkServiceEndpointRegistry_FindClient, error) {
	return &chain.EmptyStream[registry.NetworkServiceEndpointResponse]{Ctx: ctx}, nil
}
func (v *valueChecker) Unregister(ctx context.Context, _ *registry.NetworkServiceEndpoint, _ ...grpc.CallOption) (*emptypb.Empty, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.values = append(v.values, "unregister:"+ctx.Value(ctxKey{}).(string))
	return &emptypb.Empty{}, nil
}

func TestClientEvents(t *testing.T) {
	vc := &valueChecker{}
	b := begin.NewNSEClient()
	c := chain.NewNSEClient(b, vc)
	regCtx, regCancel := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, "v"))
	if _, err := c.Register(regCtx, &registry.NetworkServiceEndpoint{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	regCancel() // events must not inherit the cancellation
	if err := <-vc.events.Register(); err != nil {
		t.Fatal(err)
	}
	if err := <-vc.events.Unregister(); err != nil {
		t.Fatal(err)
	}
	if n := b.(lener).Len(); n != 0 {
		t.Fatalf("Unregister event left %d names", n)
	}
	vc.mu.Lock()
	defer vc.mu.Unlock()
	if len(vc.values) != 3 || vc.values[0] != "v" || vc.values[1] != "v" || vc.values[2] != "unregister:v" {
		t.Fatalf("chain saw %v", vc.values)
	}
}

// deadlineSeen records the time left of each Register.
type deadlineSeen struct {
	chain.NSEServerLink
	left   []time.Duration
	events begin.EventFactory
}

func (d *deadlineSeen) Register(ctx context.Context, nse *registry.NetworkServiceEndpoint) (*registry.NetworkServiceEndpoint, error) {
	dl, _ := ctx.Deadline()
	d.left = append(d.left, time.Until(dl))
	d.events = begin.FromContext(ctx)
	return nse, nil
}
func (d *deadlineSeen) Find(*registry.NetworkServiceEndpointQuery, grpc.ServerStreamingServer[registry.NetworkServiceEndpointResponse]) error {
	return nil
}
func (d *deadlineSeen) Unregister(context.Context, *registry.NetworkServiceEndpoint) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func TestEventTimeouts(t *testing.T) {
	tests := []struct {
		name     string
		register time.Duration // 0: no deadline
		opts     []begin.Option
		want     time.Duration
	}{
		{"inherits the Register's timeout", time.Hour, nil, time.Hour},
		{"default without one", 0, nil, begin.DefaultEventTimeout},
		{"Timeout shortens", time.Hour, []begin.Option{begin.Timeout(time.Second)}, time.Second},
		{"Timeout never lengthens", time.Hour, []begin.Option{begin.Timeout(2 * time.Hour)}, time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &deadlineSeen{}
			srv := chain.NewNSEServer(begin.NewNSEServer(), d)
			ctx := context.Background()
			if tt.register > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.register)
				defer cancel()
			}
			if _, err := srv.Register(ctx, &registry.NetworkServiceEndpoint{Name: "a"}); err != nil {
				t.Fatal(err)
			}
			if err := <-d.events.Register(tt.opts...); err != nil {
				t.Fatal(err)
			}
			if got := d.left[1]; got > tt.want || got < tt.want-time.Minute {
				t.Fatalf("event had %s left, want about %s", got, tt.want)
			}
		})
	}
}
