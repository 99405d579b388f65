// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package heal_test

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"go.uber.org/goleak"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/registry/adapters"
	"github.com/nsmesh/nsmesh/sdk/registry/begin"
	"github.com/nsmesh/nsmesh/sdk/registry/heal"
	"github.com/nsmesh/nsmesh/sdk/registry/internal/regtest"
	"github.com/nsmesh/nsmesh/sdk/registry/memory"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func held(t *testing.T, ctx context.Context, store registry.NetworkServiceRegistryClient, name string) bool {
	t.Helper()
	s, err := store.Find(ctx, &registry.NetworkServiceQuery{NetworkService: &registry.NetworkService{Name: name}})
	if err != nil {
		t.Fatal(err)
	}
	return len(regtest.All(t, s)) == 1
}

func TestHealRestoresARemovedRegistration(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store := adapters.NSServerToClient(memory.NewNSServer(ctx))
	logs := &bytes.Buffer{}
	var mu sync.Mutex
	l := logrus.New()
	l.SetLevel(logrus.DebugLevel)
	l.SetOutput(writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return logs.Write(p) }))
	defer func() {
		if t.Failed() {
			mu.Lock()
			t.Log(logs.String())
			mu.Unlock()
		}
	}()
	h, err := heal.NewNSClient(ctx, heal.WithBackoff(10*time.Millisecond, 50*time.Millisecond), heal.WithLogger(l))
	if err != nil {
		t.Fatal(err)
	}
	c := chain.NewNSClient(begin.NewNSClient(), h, store)
	if _, err := c.Register(ctx, &registry.NetworkService{Name: "red"}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		// Someone else removes it: heal puts it back.
		if _, err := store.Unregister(ctx, &registry.NetworkService{Name: "red"}); err != nil {
			t.Fatal(err)
		}
		regtest.Eventually(t, 5*time.Second, func() bool { return held(t, ctx, store, "red") }, "registration restored")
	}
	// The owner's Unregister is final.
	if _, err := c.Unregister(ctx, &registry.NetworkService{Name: "red"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if held(t, ctx, store, "red") {
		t.Fatal("heal undid the owner's Unregister")
	}
}

func TestStopsWithItsContext(t *testing.T) {
	storeCtx, storeCancel := context.WithCancel(context.Background())
	defer storeCancel()
	store := adapters.NSServerToClient(memory.NewNSServer(storeCtx))
	ctx, cancel := context.WithCancel(context.Background())
	h, err := heal.NewNSClient(ctx, heal.WithBackoff(10*time.Millisecond, 50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	c := chain.NewNSClient(begin.NewNSClient(), h, store)
	if _, err := c.Register(ctx, &registry.NetworkService{Name: "red"}); err != nil {
		t.Fatal(err)
	}
	cancel()
	time.Sleep(100 * time.Millisecond)
	if _, err := store.Unregister(storeCtx, &registry.NetworkService{Name: "red"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if held(t, storeCtx, store, "red") {
		t.Fatal("heal acted after its context was done")
	}
}

func TestOptionsAndPlacement(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := heal.NewNSEClient(ctx, heal.WithBackoff(time.Second, time.Millisecond)); err == nil {
		t.Fatal("min backoff above max accepted")
	}
	h, err := heal.NewNSEClient(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = chain.NewNSEClient(h).Register(ctx, &registry.NetworkServiceEndpoint{Name: "a"})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("without begin: %v", err)
	}
}
