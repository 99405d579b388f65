// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package discover finds the endpoints that can serve a request, in the
// registry, as a forwarder (or proxy) does before it connects onwards.
//
// Guarantees (nsm-reference §4.1):
//   - A context that already carries a client URL is left alone.
//   - A connection that names its endpoint (network_service_endpoint_name,
//     set on refresh) goes to that endpoint's URL; an unknown name fails with
//     codes.NotFound, unless this connection reached that endpoint before:
//     then the registry lost it (restarted empty) or cannot be asked, and the
//     Request (or Close) goes to the URL it was reached at (Server metadata),
//     so a registry restart never fails a refresh.
//   - A Request that names no endpoint for a connection that reached one
//     before (its client restarted with the same connection id and the hops
//     before this one lost the path too) goes to that endpoint again, as if
//     named, unless it is RESELECT_REQUESTED.
//   - Otherwise the network service must exist (codes.NotFound "network
//     service %q not found"); its unexpired endpoints are filtered with
//     MatchEndpoints against the connection's labels; connection.payload is
//     set to the service's payload and the candidates travel in the context
//     (WithCandidates) to roundrobin.
//   - When no endpoint qualifies yet, the element watches the registry until
//     one does or the request is about to time out, so an endpoint that
//     registers after the request started is found. The reserve it keeps
//     (a fifth of the time left, at most a second) lets the NotFound status
//     reach the caller before its own deadline.
//   - Malformed selectors in the service's matches fail with
//     codes.InvalidArgument.
//   - Close goes to the URL this connection reached its endpoint at (without
//     asking the registry, which may be down); a connection this element
//     never forwarded looks the endpoint up by name. Close always continues
//     the chain, so downstream state is freed even when the endpoint is gone.
//
// Placement: in a forwarder or proxy server chain after the endpoint chain
// elements and before roundrobin and connect.
package discover
