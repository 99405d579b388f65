// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package networkservice

import (
	"google.golang.org/protobuf/proto"

	"github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/cls"
)

// GetCurrentPathSegment returns the segment of the hop that holds the
// connection (path[index]), or nil when the path does not reach index.
func (x *Connection) GetCurrentPathSegment() *PathSegment {
	return x.pathSegmentAt(0)
}

// GetPrevPathSegment returns path[index-1], or nil at the first hop or when
// the path does not reach it.
func (x *Connection) GetPrevPathSegment() *PathSegment {
	return x.pathSegmentAt(-1)
}

// GetNextPathSegment returns path[index+1], or nil when there is no next hop
// yet.
func (x *Connection) GetNextPathSegment() *PathSegment {
	return x.pathSegmentAt(1)
}

// pathSegmentAt returns path[index+offset]; the index arrives over the wire,
// so it is range-checked in int64 to avoid overflow on 32-bit platforms too.
func (x *Connection) pathSegmentAt(offset int64) *PathSegment {
	segments := x.GetPath().GetPathSegments()
	i := int64(x.GetPath().GetIndex()) + offset
	if i < 0 || i >= int64(len(segments)) {
		return nil
	}
	return segments[i]
}

// IsRemote reports whether the connection's selected mechanism crosses nodes.
func (x *Connection) IsRemote() bool {
	return x.GetMechanism().GetCls() == cls.REMOTE
}

// Clone returns a deep copy; nil stays nil.
func (x *Connection) Clone() *Connection {
	if x == nil {
		return nil
	}
	return proto.Clone(x).(*Connection)
}

// Clone returns a deep copy; nil stays nil.
func (x *NetworkServiceRequest) Clone() *NetworkServiceRequest {
	if x == nil {
		return nil
	}
	return proto.Clone(x).(*NetworkServiceRequest)
}

// GetRequestConnection returns the requested connection; it exists next to
// the generated GetConnection so request-like types share one accessor name.
func (x *NetworkServiceRequest) GetRequestConnection() *Connection {
	return x.GetConnection()
}

// SetRequestConnection replaces the requested connection and returns x, so
// elements can write `next.Request(ctx, req.SetRequestConnection(conn))`. A
// nil request is left alone.
func (x *NetworkServiceRequest) SetRequestConnection(conn *Connection) *NetworkServiceRequest {
	if x != nil {
		x.Connection = conn
	}
	return x
}

// Clone returns a deep copy; nil stays nil.
func (x *Path) Clone() *Path {
	if x == nil {
		return nil
	}
	return proto.Clone(x).(*Path)
}

// Clone returns a deep copy; nil stays nil.
func (x *PathSegment) Clone() *PathSegment {
	if x == nil {
		return nil
	}
	return proto.Clone(x).(*PathSegment)
}

// Clone returns a deep copy; nil stays nil.
func (x *Mechanism) Clone() *Mechanism {
	if x == nil {
		return nil
	}
	return proto.Clone(x).(*Mechanism)
}

// Clone returns a deep copy; nil stays nil.
func (x *ConnectionContext) Clone() *ConnectionContext {
	if x == nil {
		return nil
	}
	return proto.Clone(x).(*ConnectionContext)
}
