// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package updatepath

import (
	"strconv"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/nsmesh/nsmesh/apis/networkservice"
)

// updatePath makes path[index] the segment of name and conn.id its id, and
// returns the index the connection had before: the caller's segment, to which
// the returned connection is restored.
func updatePath(conn *networkservice.Connection, name string) (prev uint32, err error) {
	if name == "" {
		return 0, status.Error(codes.Internal, "updatepath: element built without a name")
	}
	if conn.Path == nil {
		conn.Path = &networkservice.Path{}
	}
	path := conn.Path
	segs := path.PathSegments
	if len(segs) == 0 {
		path.Index = 0
		if conn.Id == "" {
			conn.Id = uuid.NewString()
		}
		path.PathSegments = append(segs, &networkservice.PathSegment{Name: name, Id: conn.Id})
		return 0, nil
	}
	// uint64 so that a hostile index near MaxUint32 cannot wrap around.
	idx := uint64(path.Index)
	if idx >= uint64(len(segs)) {
		return 0, status.Errorf(codes.InvalidArgument,
			"updatepath: path index %d is outside the path of %d segments: send the connection as the previous hop returned it",
			idx, len(segs))
	}
	cur := segs[idx]
	if cur.GetName() == name {
		conn.Id = cur.GetId()
		return path.Index, nil
	}
	if cur.GetId() != conn.Id {
		return 0, status.Errorf(codes.InvalidArgument,
			"updatepath: connection id %q does not match path segment %d id %q: set the connection id to the id of your own path segment",
			conn.Id, idx, cur.GetId())
	}
	prev = path.Index
	next := idx + 1
	switch {
	case next == uint64(len(segs)):
		conn.Id = segmentID(cur, name)
		path.PathSegments = append(segs, &networkservice.PathSegment{Name: name, Id: conn.Id})
	case segs[next].GetName() != name:
		// A different hop held this place on an earlier path (reselect): its
		// segment, token and metrics mean nothing here.
		conn.Id = segmentID(cur, name)
		segs[next] = &networkservice.PathSegment{Name: name, Id: conn.Id}
	default:
		conn.Id = segs[next].GetId()
	}
	path.Index = uint32(next)
	return prev, nil
}

// segmentNamespace scopes the ids segmentID derives (UUID version 5).
var segmentNamespace = uuid.MustParse("8a0c3b8e-5f0e-4c47-9d55-2f1f4b6b2e71")

// segmentID is the id of the segment hop name adds after prev: a name-based
// UUID of prev's name and id and name, so that a caller sending the same
// segment again without the rest of the path (a client restarted with a
// fixed connection id, a hop that lost its state) reaches the same segment,
// and so the same connection, here and at every hop after this one. Each
// string is length-prefixed: no two inputs share an encoding.
func segmentID(prev *networkservice.PathSegment, name string) string {
	b := make([]byte, 0, 96)
	for _, s := range [...]string{prev.GetName(), prev.GetId(), name} {
		b = strconv.AppendInt(b, int64(len(s)), 10)
		b = append(b, ':')
		b = append(b, s...)
	}
	return uuid.NewSHA1(segmentNamespace, b).String()
}

// restore sets the returned connection back to the caller's segment.
func restore(conn *networkservice.Connection, index uint32) error {
	segs := conn.GetPath().GetPathSegments()
	if uint64(index) >= uint64(len(segs)) {
		return status.Errorf(codes.Internal,
			"updatepath: the chain returned a path of %d segments, shorter than the caller's index %d", len(segs), index)
	}
	conn.Id = segs[index].GetId()
	conn.Path.Index = index
	return nil
}
