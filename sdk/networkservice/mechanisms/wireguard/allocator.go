// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package wireguard

import (
	"crypto/ecdh"
	crand "crypto/rand"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	apiwg "github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/wireguard"
)

const (
	// DefaultFirstPort is the first port of the default range: WireGuard's
	// customary port.
	DefaultFirstPort = 51820
	// DefaultLastPort ends the default range: 1000 concurrent tunnels per node.
	DefaultLastPort = 52819
)

// PortRange is an inclusive range of UDP ports.
type PortRange struct {
	First, Last uint16
}

// DefaultPortRange is 51820-52819.
var DefaultPortRange = PortRange{First: DefaultFirstPort, Last: DefaultLastPort}

// ParsePortRange reads "first-last" or a single port.
func ParsePortRange(s string) (PortRange, error) {
	s = strings.TrimSpace(s)
	lo, hi, isRange := strings.Cut(s, "-")
	first, err := parsePort(lo)
	if err != nil {
		return PortRange{}, fmt.Errorf("wireguard: port range %q: %w", s, err)
	}
	last := first
	if isRange {
		if last, err = parsePort(hi); err != nil {
			return PortRange{}, fmt.Errorf("wireguard: port range %q: %w", s, err)
		}
	}
	r := PortRange{First: first, Last: last}
	if err := r.Validate(); err != nil {
		return PortRange{}, err
	}
	return r, nil
}

func parsePort(s string) (uint16, error) {
	s = strings.TrimSpace(s)
	v, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return 0, fmt.Errorf("%q is not a port number (1-65535)", s)
	}
	return uint16(v), nil
}

// Validate checks that the range is non-empty and does not contain port 0.
func (r PortRange) Validate() error {
	if r.First == 0 || r.Last < r.First {
		return fmt.Errorf("wireguard: port range %s: want first-last with 1 <= first <= last <= 65535", r)
	}
	return nil
}

// Size is the number of ports in the range.
func (r PortRange) Size() int { return int(r.Last) - int(r.First) + 1 }

// Contains reports whether port is in the range.
func (r PortRange) Contains(port uint16) bool { return port >= r.First && port <= r.Last }

func (r PortRange) String() string {
	if r.First == r.Last {
		return strconv.Itoa(int(r.First))
	}
	return fmt.Sprintf("%d-%d", r.First, r.Last)
}

// GenerateKey returns a new Curve25519 key pair, the private key clamped as
// WireGuard does.
func GenerateKey() (private, public apiwg.Key, err error) {
	if _, err = crand.Read(private[:]); err != nil {
		return apiwg.Key{}, apiwg.Key{}, fmt.Errorf("wireguard: generate key: %w", err)
	}
	private[0] &= 248
	private[31] = (private[31] & 127) | 64
	public, err = PublicKey(private)
	return private, public, err
}

// PublicKey derives the public key of a private key.
func PublicKey(private apiwg.Key) (apiwg.Key, error) {
	k, err := ecdh.X25519().NewPrivateKey(private[:])
	if err != nil {
		return apiwg.Key{}, fmt.Errorf("wireguard: private key: %w", err)
	}
	var pub apiwg.Key
	copy(pub[:], k.PublicKey().Bytes())
	return pub, nil
}

// PrivateKeys is what a data plane needs from an Allocator: the private key
// behind a public key this forwarder published.
type PrivateKeys interface {
	PrivateKey(public apiwg.Key) (apiwg.Key, bool)
}

// Allocator hands out the UDP ports and key pairs of one forwarder's
// WireGuard tunnels. Its client and server elements and its data plane share
// one Allocator. It is safe for concurrent use.
type Allocator struct {
	ports PortRange

	mu   sync.Mutex
	used map[uint16]struct{}
	// keys maps each published public key to its private key.
	keys map[apiwg.Key]apiwg.Key
}

// NewAllocator returns an Allocator over the given port range.
func NewAllocator(ports PortRange) (*Allocator, error) {
	if err := ports.Validate(); err != nil {
		return nil, err
	}
	return &Allocator{ports: ports, used: make(map[uint16]struct{}), keys: make(map[apiwg.Key]apiwg.Key)}, nil
}

// Ports returns the range the Allocator hands ports out of.
func (a *Allocator) Ports() PortRange { return a.ports }

// PrivateKey returns the private key behind public, if this Allocator
// generated it and it was not released.
func (a *Allocator) PrivateKey(public apiwg.Key) (apiwg.Key, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	k, ok := a.keys[public]
	return k, ok
}

// InUse returns how many ports and keys are held.
func (a *Allocator) InUse() (ports, keys int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.used), len(a.keys)
}

// lease is what one side of one connection holds.
type lease struct {
	port   uint16
	public apiwg.Key
}

// errExhausted is wrapped by the error of a lease when every port is taken.
var errExhausted = errors.New("wireguard: no free port")

// lease takes a random free port and a new key pair.
func (a *Allocator) lease() (lease, error) {
	private, public, err := GenerateKey()
	if err != nil {
		return lease{}, status.Error(codes.Internal, err.Error())
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	n := a.ports.Size()
	start := rand.IntN(n)
	for i := range n {
		port := a.ports.First + uint16((start+i)%n)
		if _, taken := a.used[port]; !taken {
			a.used[port] = struct{}{}
			a.keys[public] = private
			return lease{port: port, public: public}, nil
		}
	}
	return lease{}, status.Errorf(codes.ResourceExhausted, "%v: all %d ports of %s carry tunnels; widen the range (NSM_WIREGUARD_PORTS)",
		errExhausted, n, a.ports)
}

// release gives a lease back; releasing twice is harmless.
func (a *Allocator) release(l lease) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.used, l.port)
	delete(a.keys, l.public)
}
