// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package chain

import (
	"fmt"
	"reflect"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/apis/registry"
)

// Linker is implemented by elements that hand calls on to a successor.
type Linker[T any] interface {
	setNext(next T)
	linked() bool
}

// Link is embedded by an element to receive its successor when the chain is
// built. Call Next() to continue the chain.
type Link[T any] struct {
	next T
	set  bool
}

func (l *Link[T]) setNext(next T) { l.next, l.set = next, true }
func (l *Link[T]) linked() bool   { return l.set }

// Next returns the element's successor.
func (l *Link[T]) Next() T { return l.next }

// Link types for the APIs of the mesh.
type (
	ServerLink    = Link[networkservice.NetworkServiceServer]
	ClientLink    = Link[networkservice.NetworkServiceClient]
	NSServerLink  = Link[registry.NetworkServiceRegistryServer]
	NSClientLink  = Link[registry.NetworkServiceRegistryClient]
	NSEServerLink = Link[registry.NetworkServiceEndpointRegistryServer]
	NSEClientLink = Link[registry.NetworkServiceEndpointRegistryClient]
)

// link wires elems one to the next, the last one to tail, and returns the
// first element (tail when elems is empty). Nil elements are skipped so that
// optional elements can be written inline.
func link[T comparable](elems []T, tail T) T {
	var zero T
	next := tail
	for i := len(elems) - 1; i >= 0; i-- {
		e := elems[i]
		if e == zero {
			continue
		}
		l, ok := any(e).(Linker[T])
		if !ok {
			if i != lastNonNil(elems) {
				panic(fmt.Sprintf("chain: element %d (%s) cannot pass calls on, so it must be the last element", i, reflect.TypeOf(e)))
			}
			next = e
			continue
		}
		if l.linked() {
			panic(fmt.Sprintf("chain: element %d (%s) is already part of a chain", i, reflect.TypeOf(e)))
		}
		l.setNext(next)
		next = e
	}
	return next
}

func lastNonNil[T comparable](elems []T) int {
	var zero T
	for i := len(elems) - 1; i >= 0; i-- {
		if elems[i] != zero {
			return i
		}
	}
	return -1
}
