// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package roundrobin chooses one of the endpoints discover found.
//
// Guarantees (nsm-reference §4.1):
//   - Per network service a counter rotates the first choice, so new
//     connections spread over the candidates; Destination.weight is ignored.
//   - The chosen endpoint's URL goes into the context (clienturlctx) and its
//     name into connection.network_service_endpoint_name before the chain
//     continues.
//   - When the rest of the chain fails, the next candidate is tried with a
//     fresh copy of the request, until every candidate has been tried or the
//     request context ends; the final error names every endpoint tried and
//     why it failed.
//   - Without candidates in the context (refresh of a named endpoint, Close)
//     the element passes the call through; discover sets the URL then.
//
// Placement: right after discover.
package roundrobin
