// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package fakes

import (
	"context"
	"errors"
	"sync"

	"github.com/nsmesh/nsmesh/sdk/networkservice/xconnect"
)

// Dataplane is an xconnect.Dataplane that programs nothing but remembers what
// it was asked to program, so tests can see what a real one would hold.
type Dataplane struct {
	mu         sync.Mutex
	programmed map[string]*xconnect.Pair
	programs   int
	unprograms int
	// FailProgram, when set, makes Program fail with it.
	FailProgram error
}

// NewDataplane returns an empty fake data plane.
func NewDataplane() *Dataplane {
	return &Dataplane{programmed: make(map[string]*xconnect.Pair)}
}

// Program records p.
func (d *Dataplane) Program(_ context.Context, p *xconnect.Pair) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.programs++
	if d.FailProgram != nil {
		return d.FailProgram
	}
	d.programmed[p.ID] = p
	return nil
}

// Unprogram forgets p; unprogramming twice is an error, as a leak check.
func (d *Dataplane) Unprogram(_ context.Context, p *xconnect.Pair) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.unprograms++
	if _, ok := d.programmed[p.ID]; !ok {
		if d.FailProgram != nil {
			return nil
		}
		return errors.New("fakes: unprogram of a connection that is not programmed: " + p.ID)
	}
	delete(d.programmed, p.ID)
	return nil
}

// Programmed returns the pairs currently programmed, by connection id.
func (d *Dataplane) Programmed() map[string]*xconnect.Pair {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string]*xconnect.Pair, len(d.programmed))
	for k, v := range d.programmed {
		out[k] = v
	}
	return out
}

// Counts returns how often Program and Unprogram ran.
func (d *Dataplane) Counts() (programs, unprograms int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.programs, d.unprograms
}

var _ xconnect.Dataplane = (*Dataplane)(nil)
