// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package metadata is per-connection storage for chain elements.
//
// The begin element of a chain owns one Map per connection id: it creates it
// on the first Request, drops it when that Request fails, and drops it after
// Close. Elements reach the Map of the connection being handled through the
// request context and read or write their own typed Key in it. Begin
// serialises the calls of one connection, so Map needs no locking of its own.
//
// A passthrough hop runs a server chain and, inside it, a client chain for the
// same connection id; each has its own begin and so its own Map. Side picks
// which one: an element adapted from client to server still asks for the
// Client side and so keeps its state apart from server elements.
package metadata

import "context"

// Side is the half of a passthrough hop a Map belongs to.
type Side uint8

// The two sides of a hop.
const (
	Server Side = iota
	Client
)

func (s Side) String() string {
	if s == Client {
		return "client"
	}
	return "server"
}

// Map holds the values of one connection on one side.
type Map struct {
	values map[any]any
}

// NewMap returns an empty Map.
func NewMap() *Map { return &Map{values: make(map[any]any)} }

type ctxKey struct{ side Side }

// WithMap returns ctx carrying m for side.
func WithMap(ctx context.Context, side Side, m *Map) context.Context {
	return context.WithValue(ctx, ctxKey{side}, m)
}

// FromContext returns the Map for side carried by ctx, or nil.
func FromContext(ctx context.Context, side Side) *Map {
	m, _ := ctx.Value(ctxKey{side}).(*Map)
	return m
}

// Key is a typed slot in a Map. Declare one per element and piece of state:
//
//	var stickyForwarder = metadata.NewKey[string]("discoverforwarder.sticky")
type Key[T any] struct{ name string }

// NewKey returns a new Key; name is used only in messages.
func NewKey[T any](name string) *Key[T] { return &Key[T]{name: name} }

func (k *Key[T]) String() string { return k.name }

// Load returns the value for k in the Map of side, if any.
func (k *Key[T]) Load(ctx context.Context, side Side) (T, bool) {
	var zero T
	m := FromContext(ctx, side)
	if m == nil {
		return zero, false
	}
	v, ok := m.values[k]
	if !ok {
		return zero, false
	}
	return v.(T), true
}

// Store sets the value for k in the Map of side. It reports false, storing
// nothing, when ctx carries no Map for side (no begin in the chain).
func (k *Key[T]) Store(ctx context.Context, side Side, v T) bool {
	m := FromContext(ctx, side)
	if m == nil {
		return false
	}
	m.values[k] = v
	return true
}

// LoadOrStore returns the existing value for k, or stores and returns v.
// loaded reports whether the value existed.
func (k *Key[T]) LoadOrStore(ctx context.Context, side Side, v T) (actual T, loaded bool) {
	if old, ok := k.Load(ctx, side); ok {
		return old, true
	}
	k.Store(ctx, side, v)
	return v, false
}

// Delete removes the value for k.
func (k *Key[T]) Delete(ctx context.Context, side Side) {
	if m := FromContext(ctx, side); m != nil {
		delete(m.values, k)
	}
}
