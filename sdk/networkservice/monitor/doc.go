// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package monitor implements connection.MonitorConnection for a hop and
// relays the state of downstream hops upstream.
//
// Server (one per hop, in the server chain and registered as the
// MonitorConnection service):
//   - Every successful Request stores the returned connection and sends an
//     UPDATE; Close removes it and sends a DELETE, even when the rest of the
//     chain fails to close.
//   - A subscriber first receives INITIAL_STATE_TRANSFER with the stored
//     connections its selector matches (networkservice.MatchesMonitorScopeSelector),
//     then every later matching change.
//   - Requests never wait for subscribers: each subscriber has a pending set
//     with the latest event per connection, drained by its own stream. A slow
//     subscriber sees fewer, coalesced events but always the final state,
//     and costs memory bounded by the number of connections.
//   - Streams end when the subscriber goes away or the server's context ends.
//
// Client (in a passthrough hop's client chain, e.g. inside connect.NewServer):
//   - After each successful Request it watches the next hop with
//     MonitorConnections on the conn dial stored, selecting the next path
//     segment by id and name; one stream per connection, restarted only when
//     the next hop changes.
//   - Downstream events for the connection (the initial state too, which may
//     have changed between the Request and the stream's start) are relayed to
//     the Server of the same hop, translated to this hop's view: our id and
//     path index, the downstream path, connection context and state; a view
//     equal to the stored one is dropped. A downstream DELETE is an UPDATE
//     with state DOWN here, because this hop still holds the connection until
//     it is closed.
//   - When the stream breaks (the next hop died) the connection is reported
//     upstream as UPDATE with state DOWN, so the client can heal.
//   - The stream stops on Close, before the Close goes downstream, and when
//     the chain's context ends; no goroutine outlives either.
//   - With WithCloseOnEndpointLoss (forwarders): when the broken stream was
//     to the connection's endpoint (the next segment is the path's last and
//     carries the endpoint's name) and the endpoint does not accept a
//     connection again within the probe time (250 ms by default), the
//     endpoint is gone, and the hop closes the connection through its
//     server's begin: its data plane is removed and upstream sees it DOWN.
//     A dead endpoint's network namespace can outlive the endpoint while a
//     hop holds its descriptor, and its interfaces keep answering pings;
//     closing them lets the client's liveness check see the dead data plane
//     and reselect another endpoint. A passing stream loss (the endpoint
//     answers again in time) leaves the connection DOWN for the client to
//     re-request.
//
// Placement: the Server after begin (and authorize) in every hop's server
// chain; the Client anywhere after begin in the client chain of connect.
package monitor
