// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package kind

import (
	"slices"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/nsmesh/nsmesh/apis/registry"
)

// Message types of the two registries.
type (
	NSR  = registry.NetworkService
	NSQ  = registry.NetworkServiceQuery
	NSP  = registry.NetworkServiceResponse
	NSER = registry.NetworkServiceEndpoint
	NSEQ = registry.NetworkServiceEndpointQuery
	NSEP = registry.NetworkServiceEndpointResponse
)

// NS is the NetworkService registry.
var NS = &Kind[NSR, NSQ, NSP]{
	Noun:       "network service",
	Short:      "ns",
	Service:    "registry.NetworkServiceRegistry",
	Name:       (*NSR).GetName,
	Named:      func(name string) *NSR { return &NSR{Name: name} },
	Clone:      func(r *NSR) *NSR { return proto.Clone(r).(*NSR) },
	PathIDs:    (*NSR).GetPathIds,
	SetPathIDs: func(r *NSR, ids []string) { r.PathIds = ids },
	Query:      func(q *NSQ) (*NSR, bool) { return q.GetNetworkService(), q.GetWatch() },
	NewQuery:   func(r *NSR, watch bool) *NSQ { return &NSQ{NetworkService: r, Watch: watch} },
	Response:   func(r *NSR, deleted bool) *NSP { return &NSP{NetworkService: r, Deleted: deleted} },
	Entry:      func(p *NSP) (*NSR, bool) { return p.GetNetworkService(), p.GetDeleted() },
	Match:      MatchNS,
	GRPCClient: func(cc grpc.ClientConnInterface) Client[NSR, NSQ, NSP] {
		return registry.NewNetworkServiceRegistryClient(cc)
	},
}

// NSE is the NetworkServiceEndpoint registry.
var NSE = &Kind[NSER, NSEQ, NSEP]{
	Noun:       "network service endpoint",
	Short:      "nse",
	Service:    "registry.NetworkServiceEndpointRegistry",
	Name:       (*NSER).GetName,
	Named:      func(name string) *NSER { return &NSER{Name: name} },
	Clone:      func(r *NSER) *NSER { return proto.Clone(r).(*NSER) },
	PathIDs:    (*NSER).GetPathIds,
	SetPathIDs: func(r *NSER, ids []string) { r.PathIds = ids },
	Query:      func(q *NSEQ) (*NSER, bool) { return q.GetNetworkServiceEndpoint(), q.GetWatch() },
	NewQuery:   func(r *NSER, watch bool) *NSEQ { return &NSEQ{NetworkServiceEndpoint: r, Watch: watch} },
	Response:   func(r *NSER, deleted bool) *NSEP { return &NSEP{NetworkServiceEndpoint: r, Deleted: deleted} },
	Entry:      func(p *NSEP) (*NSER, bool) { return p.GetNetworkServiceEndpoint(), p.GetDeleted() },
	Match:      MatchNSE,
	GRPCClient: func(cc grpc.ClientConnInterface) Client[NSER, NSEQ, NSEP] {
		return registry.NewNetworkServiceEndpointRegistryClient(cc)
	},
}

// MatchNS reports whether ns answers a query with template q: the name and the
// payload are empty or equal, and the matches are empty or equal.
func MatchNS(q, ns *NSR) bool {
	if q == nil {
		return true
	}
	if q.GetName() != "" && q.GetName() != ns.GetName() {
		return false
	}
	if q.GetPayload() != "" && q.GetPayload() != ns.GetPayload() {
		return false
	}
	if len(q.GetMatches()) == 0 {
		return true
	}
	return slices.EqualFunc(q.GetMatches(), ns.GetMatches(), func(a, b *registry.Match) bool { return proto.Equal(a, b) })
}

// MatchNSE reports whether nse answers a query with template q: the name is
// empty or equal; for every network service of the query its labels are a
// subset of the endpoint's labels for that service; the expiration time is
// unset or has the same seconds; the network service names are a subset of
// the endpoint's; the URL is empty or a substring of the endpoint's.
func MatchNSE(q, nse *NSER) bool {
	if q == nil {
		return true
	}
	if q.GetName() != "" && q.GetName() != nse.GetName() {
		return false
	}
	for ns, want := range q.GetNetworkServiceLabels() {
		have, ok := nse.GetNetworkServiceLabels()[ns]
		if !ok {
			return false
		}
		for k, v := range want.GetLabels() {
			if hv, ok := have.GetLabels()[k]; !ok || hv != v {
				return false
			}
		}
	}
	if q.GetExpirationTime() != nil && q.GetExpirationTime().GetSeconds() != nse.GetExpirationTime().GetSeconds() {
		return false
	}
	for _, name := range q.GetNetworkServiceNames() {
		if !slices.Contains(nse.GetNetworkServiceNames(), name) {
			return false
		}
	}
	return strings.Contains(nse.GetUrl(), q.GetUrl())
}
