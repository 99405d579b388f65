// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package monitor

import (
	"context"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/core/begin"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
)

// Server stores the connections of a hop and serves MonitorConnections.
type Server struct {
	chain.ServerLink
	ctx context.Context
	o   options

	mu    sync.Mutex
	conns map[string]*networkservice.Connection
	subs  map[*subscriber]struct{}
}

// NewServer returns a monitor Server; its streams end when ctx ends. Put it
// in the server chain and register it as the MonitorConnection service:
//
//	mon := monitor.NewServer(ctx)
//	srv := chain.NewServer(begin.NewServer(), …, mon, …)
//	networkservice.RegisterMonitorConnectionServer(grpcServer, mon)
func NewServer(ctx context.Context, opts ...Option) *Server {
	o := options{}
	for _, opt := range opts {
		opt(&o)
	}
	return &Server{
		ctx:   ctx,
		o:     o,
		conns: make(map[string]*networkservice.Connection),
		subs:  make(map[*subscriber]struct{}),
	}
}

// Request stores the connection the rest of the chain returns.
func (s *Server) Request(ctx context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	conn, err := s.Next().Request(withRelay(ctx, &relay{s: s, id: req.GetConnection().GetId(), events: begin.FromContext(ctx)}), req)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	stored := conn.Clone()
	s.conns[stored.GetId()] = stored
	s.publish(networkservice.ConnectionEventType_UPDATE, stored)
	return conn, nil
}

// Close forgets the connection whatever the rest of the chain reports.
func (s *Server) Close(ctx context.Context, conn *networkservice.Connection) (*emptypb.Empty, error) {
	out, err := s.Next().Close(ctx, conn)
	s.mu.Lock()
	defer s.mu.Unlock()
	gone, ok := s.conns[conn.GetId()]
	if !ok {
		gone = conn.Clone()
	}
	delete(s.conns, conn.GetId())
	s.publish(networkservice.ConnectionEventType_DELETE, gone)
	return out, err
}

// Len reports how many connections the server holds.
func (s *Server) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// MonitorConnections streams the connections sel matches.
func (s *Server) MonitorConnections(sel *networkservice.MonitorScopeSelector, srv grpc.ServerStreamingServer[networkservice.ConnectionEvent]) error {
	if s.ctx.Err() != nil {
		return status.Error(codes.Unavailable, "monitor: the server is shutting down")
	}
	sub := &subscriber{sel: sel, pending: make(map[string]pendingEvent), wake: make(chan struct{}, 1)}
	s.mu.Lock()
	initial := make(map[string]*networkservice.Connection)
	for id, conn := range s.conns {
		if networkservice.MatchesMonitorScopeSelector(conn, sel) {
			initial[id] = conn.Clone()
		}
	}
	s.subs[sub] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.subs, sub)
		s.mu.Unlock()
	}()

	if err := srv.Send(&networkservice.ConnectionEvent{
		Type:        networkservice.ConnectionEventType_INITIAL_STATE_TRANSFER,
		Connections: initial,
	}); err != nil {
		return err
	}
	for {
		select {
		case <-srv.Context().Done():
			return nil
		case <-s.ctx.Done():
			return nil
		case <-sub.wake:
			for _, ev := range sub.drain() {
				if err := srv.Send(ev); err != nil {
					return err
				}
			}
		}
	}
}

// publish queues an event for every subscriber whose selector matches conn;
// conn must not be modified afterwards. s.mu is held.
func (s *Server) publish(typ networkservice.ConnectionEventType, conn *networkservice.Connection) {
	for sub := range s.subs {
		if networkservice.MatchesMonitorScopeSelector(conn, sub.sel) {
			sub.push(typ, conn)
		}
	}
}

// relayed applies an event of the next hop to the stored connection id.
func (s *Server) relayed(id string, typ networkservice.ConnectionEventType, in *networkservice.Connection) {
	s.mu.Lock()
	defer s.mu.Unlock()
	stored, ok := s.conns[id]
	if !ok {
		return
	}
	idx := stored.GetPath().GetIndex()
	segs := in.GetPath().GetPathSegments()
	if int(idx) >= len(segs) || segs[idx].GetId() != id {
		// Not a view of our connection (another branch of the path).
		return
	}
	out := stored.Clone()
	out.Path = in.GetPath().Clone()
	out.Path.Index = idx
	out.Context = in.GetContext().Clone()
	out.State = in.GetState()
	if typ == networkservice.ConnectionEventType_DELETE {
		out.State = networkservice.State_DOWN
	}
	if proto.Equal(out, stored) {
		return
	}
	s.conns[id] = out
	s.publish(networkservice.ConnectionEventType_UPDATE, out)
}

// down marks the stored connection id as DOWN.
func (s *Server) down(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	stored, ok := s.conns[id]
	if !ok || stored.GetState() == networkservice.State_DOWN {
		return
	}
	out := stored.Clone()
	out.State = networkservice.State_DOWN
	s.conns[id] = out
	s.publish(networkservice.ConnectionEventType_UPDATE, out)
}

type pendingEvent struct {
	typ  networkservice.ConnectionEventType
	conn *networkservice.Connection
}

// subscriber keeps the latest unsent event per connection.
type subscriber struct {
	sel  *networkservice.MonitorScopeSelector
	wake chan struct{}

	mu      sync.Mutex
	pending map[string]pendingEvent
}

func (sub *subscriber) push(typ networkservice.ConnectionEventType, conn *networkservice.Connection) {
	sub.mu.Lock()
	sub.pending[conn.GetId()] = pendingEvent{typ: typ, conn: conn}
	sub.mu.Unlock()
	select {
	case sub.wake <- struct{}{}:
	default:
	}
}

// drain returns the pending events as at most one DELETE and one UPDATE.
func (sub *subscriber) drain() []*networkservice.ConnectionEvent {
	sub.mu.Lock()
	pending := sub.pending
	sub.pending = make(map[string]pendingEvent)
	sub.mu.Unlock()
	var updates, deletes map[string]*networkservice.Connection
	for id, ev := range pending {
		if ev.typ == networkservice.ConnectionEventType_DELETE {
			if deletes == nil {
				deletes = make(map[string]*networkservice.Connection)
			}
			deletes[id] = ev.conn
			continue
		}
		if updates == nil {
			updates = make(map[string]*networkservice.Connection)
		}
		updates[id] = ev.conn
	}
	var out []*networkservice.ConnectionEvent
	if deletes != nil {
		out = append(out, &networkservice.ConnectionEvent{Type: networkservice.ConnectionEventType_DELETE, Connections: deletes})
	}
	if updates != nil {
		out = append(out, &networkservice.ConnectionEvent{Type: networkservice.ConnectionEventType_UPDATE, Connections: updates})
	}
	return out
}

// relay is how the Client of a hop reaches the Server of the same hop.
type relay struct {
	s  *Server
	id string // the connection's id at this hop
	// events are the server begin's, to close the connection at this hop
	// (nil without begin in front).
	events begin.EventFactory
}

type relayKey struct{}

func withRelay(ctx context.Context, r *relay) context.Context {
	return context.WithValue(ctx, relayKey{}, r)
}

func relayFrom(ctx context.Context) *relay {
	r, _ := ctx.Value(relayKey{}).(*relay)
	return r
}

var (
	_ networkservice.NetworkServiceServer    = (*Server)(nil)
	_ networkservice.MonitorConnectionServer = (*Server)(nil)
)
