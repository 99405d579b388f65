// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package updatepath_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/networkservice/updatepath"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorder is the end of a chain: it keeps a copy of what reached it.
type recorder struct {
	requests, closes []*networkservice.Connection
}

func (r *recorder) Request(_ context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	r.requests = append(r.requests, req.GetConnection().Clone())
	return req.GetConnection(), nil
}

func (r *recorder) Close(_ context.Context, conn *networkservice.Connection) (*emptypb.Empty, error) {
	r.closes = append(r.closes, conn.Clone())
	return &emptypb.Empty{}, nil
}

// wire ends a client chain by calling a server, copying the messages as a
// gRPC connection would, so that no hop shares memory with another.
type wire struct {
	srv networkservice.NetworkServiceServer
}

func (w *wire) Request(ctx context.Context, req *networkservice.NetworkServiceRequest, _ ...grpc.CallOption) (*networkservice.Connection, error) {
	conn, err := w.srv.Request(ctx, req.Clone())
	return conn.Clone(), err
}

func (w *wire) Close(ctx context.Context, conn *networkservice.Connection, _ ...grpc.CallOption) (*emptypb.Empty, error) {
	return w.srv.Close(ctx, conn.Clone())
}

func seg(name, id string) *networkservice.PathSegment {
	return &networkservice.PathSegment{Name: name, Id: id}
}

func conn(id string, index uint32, segs ...*networkservice.PathSegment) *networkservice.Connection {
	return &networkservice.Connection{Id: id, Path: &networkservice.Path{Index: index, PathSegments: segs}}
}

const newID = "<new uuid>"

// The table of upstream's updatePath (nsm-reference §2.1), for an element
// named "me". want is what the next element sees; newID stands for a new
// uuid (random for a first segment without an id, derived from the previous
// segment otherwise: TestDerivedSegmentIDs), which must then also be
// conn.id.
var pathTable = []struct {
	name     string
	in       *networkservice.Connection
	want     *networkservice.Connection
	wantCode codes.Code
	wantMsg  string
}{
	{
		name: "no path, no id: new id, first segment",
		in:   &networkservice.Connection{},
		want: conn(newID, 0, seg("me", newID)),
	},
	{
		name: "no segments, id given: id kept",
		in:   conn("c1", 0),
		want: conn("c1", 0, seg("me", "c1")),
	},
	{
		name: "no segments, stray index: index reset",
		in:   conn("c1", 5),
		want: conn("c1", 0, seg("me", "c1")),
	},
	{
		name: "own name at index: id taken from the segment, index kept",
		in:   conn("whatever", 1, seg("nsc", "a"), seg("me", "b")),
		want: conn("b", 1, seg("nsc", "a"), seg("me", "b")),
	},
	{
		name: "other name at index, id matches, no next segment: append",
		in:   conn("a", 0, seg("nsc", "a")),
		want: conn(newID, 1, seg("nsc", "a"), seg("me", newID)),
	},
	{
		name: "next segment has my name: id reused",
		in:   conn("a", 0, seg("nsc", "a"), seg("me", "b"), seg("nse", "c")),
		want: conn("b", 1, seg("nsc", "a"), seg("me", "b"), seg("nse", "c")),
	},
	{
		name: "next segment has another name: overwritten with a new id",
		in:   conn("a", 0, seg("nsc", "a"), seg("old", "b"), seg("nse", "c")),
		want: conn(newID, 1, seg("nsc", "a"), seg("me", newID), seg("nse", "c")),
	},
	{
		name:     "id does not match path[index]",
		in:       conn("x", 0, seg("nsc", "a")),
		wantCode: codes.InvalidArgument,
		wantMsg:  `updatepath: connection id "x" does not match path segment 0 id "a"`,
	},
	{
		name:     "index equals the number of segments",
		in:       conn("a", 1, seg("nsc", "a")),
		wantCode: codes.InvalidArgument,
		wantMsg:  "updatepath: path index 1 is outside the path of 1 segments",
	},
	{
		name:     "index far beyond the path",
		in:       conn("a", 1<<32-1, seg("nsc", "a")),
		wantCode: codes.InvalidArgument,
		wantMsg:  "updatepath: path index 4294967295 is outside",
	},
}

// checkSeen compares what the next element saw with want, resolving newID.
func checkSeen(t *testing.T, got, want *networkservice.Connection) {
	t.Helper()
	want = want.Clone()
	fresh := ""
	for i, s := range want.GetPath().GetPathSegments() {
		if s.GetId() != newID {
			continue
		}
		if i >= len(got.GetPath().GetPathSegments()) {
			break
		}
		fresh = got.GetPath().GetPathSegments()[i].GetId()
		if _, err := uuid.Parse(fresh); err != nil {
			t.Errorf("segment %d id %q is not a uuid", i, fresh)
		}
		for _, old := range []string{"a", "b", "c", "c1"} {
			if fresh == old {
				t.Errorf("segment %d kept the old id %q", i, old)
			}
		}
		s.Id = fresh
	}
	if want.GetId() == newID {
		want.Id = fresh
	}
	if !proto.Equal(got, want) {
		t.Errorf("next saw\n  %v\nwant\n  %v", got, want)
	}
}

func checkStatus(t *testing.T, err error, code codes.Code, msg string) {
	t.Helper()
	if status.Code(err) != code {
		t.Fatalf("code = %v (%v), want %v", status.Code(err), err, code)
	}
	if err != nil && !strings.Contains(status.Convert(err).Message(), msg) {
		t.Errorf("message %q does not contain %q", status.Convert(err).Message(), msg)
	}
}

func TestServerRequest(t *testing.T) {
	for _, tt := range pathTable {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			in := tt.in.Clone()
			got, err := chain.NewServer(updatepath.NewServer("me"), rec).Request(context.Background(),
				&networkservice.NetworkServiceRequest{Connection: in})
			checkStatus(t, err, tt.wantCode, tt.wantMsg)
			if err != nil {
				if len(rec.requests) != 0 {
					t.Error("refused request reached the next element")
				}
				return
			}
			checkSeen(t, rec.requests[0], tt.want)
			// Returned: the caller's index and the id of its segment.
			idx := tt.in.GetPath().GetIndex()
			if len(tt.in.GetPath().GetPathSegments()) == 0 {
				idx = 0
			}
			if got.GetPath().GetIndex() != idx {
				t.Errorf("returned index %d, want the caller's %d", got.GetPath().GetIndex(), idx)
			}
			if want := got.GetPath().GetPathSegments()[idx].GetId(); got.GetId() != want {
				t.Errorf("returned id %q, want path[%d].id %q", got.GetId(), idx, want)
			}
		})
	}
}

func TestServerClose(t *testing.T) {
	for _, tt := range pathTable {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			_, err := chain.NewServer(updatepath.NewServer("me"), rec).Close(context.Background(), tt.in.Clone())
			checkStatus(t, err, tt.wantCode, tt.wantMsg)
			if err != nil {
				if len(rec.closes) != 0 {
					t.Error("refused close reached the next element")
				}
				return
			}
			checkSeen(t, rec.closes[0], tt.want)
		})
	}
}

func TestClientRequestAndClose(t *testing.T) {
	for _, tt := range pathTable {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			c := chain.NewClient(updatepath.NewClient("me"), &wire{srv: rec})
			got, err := c.Request(context.Background(), &networkservice.NetworkServiceRequest{Connection: tt.in.Clone()})
			checkStatus(t, err, tt.wantCode, tt.wantMsg)
			if err == nil {
				checkSeen(t, rec.requests[0], tt.want)
				idx := rec.requests[0].GetPath().GetIndex()
				if n := len(tt.in.GetPath().GetPathSegments()); n > 0 && tt.in.GetPath().GetPathSegments()[tt.in.GetPath().GetIndex()].GetName() != "me" {
					idx--
				}
				if got.GetPath().GetIndex() != idx || got.GetId() != got.GetPath().GetPathSegments()[idx].GetId() {
					t.Errorf("returned index %d id %q, want the caller's segment %d", got.GetPath().GetIndex(), got.GetId(), idx)
				}
			}
			_, err = c.Close(context.Background(), tt.in.Clone())
			checkStatus(t, err, tt.wantCode, tt.wantMsg)
			if err == nil {
				checkSeen(t, rec.closes[0], tt.want)
			}
		})
	}
}

func TestNilConnection(t *testing.T) {
	rec := &recorder{}
	s := chain.NewServer(updatepath.NewServer("me"), rec)
	got, err := s.Request(context.Background(), &networkservice.NetworkServiceRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetId() == "" || got.GetPath().GetPathSegments()[0].GetName() != "me" {
		t.Errorf("got %v", got)
	}
}

func TestEmptyName(t *testing.T) {
	_, err := chain.NewServer(updatepath.NewServer("")).Request(context.Background(), &networkservice.NetworkServiceRequest{})
	checkStatus(t, err, codes.Internal, "without a name")
	_, err = chain.NewClient(updatepath.NewClient("")).Request(context.Background(), &networkservice.NetworkServiceRequest{})
	checkStatus(t, err, codes.Internal, "without a name")
}

// truncating returns a path shorter than the caller's index: a bug further
// down, which must surface as an error and not as a panic.
type truncating struct{}

func (truncating) Request(_ context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	c := req.GetConnection().Clone()
	c.Path.PathSegments = c.Path.PathSegments[:1]
	return c, nil
}

func (truncating) Close(context.Context, *networkservice.Connection) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func TestShortReturnedPath(t *testing.T) {
	in := conn("b", 1, seg("nsc", "a"), seg("nsmgr", "b"))
	_, err := chain.NewServer(updatepath.NewServer("me"), truncating{}).Request(context.Background(),
		&networkservice.NetworkServiceRequest{Connection: in})
	checkStatus(t, err, codes.Internal, "shorter than the caller's index 1")
}

// A segment a hop adds is a function of the segment before it and the hop's
// name: a caller that sends its segment again without the rest of the path
// (a restarted client with a fixed connection id) reaches the same segment;
// any other caller, name or hop gets another one.
func TestDerivedSegmentIDs(t *testing.T) {
	next := func(prevName, prevID, me string) string {
		t.Helper()
		rec := &recorder{}
		_, err := chain.NewServer(updatepath.NewServer(me), rec).Request(context.Background(),
			&networkservice.NetworkServiceRequest{Connection: conn(prevID, 0, seg(prevName, prevID))})
		if err != nil {
			t.Fatal(err)
		}
		id := rec.requests[0].GetId()
		if _, err := uuid.Parse(id); err != nil {
			t.Fatalf("segment id %q is not a uuid", id)
		}
		return id
	}
	base := next("nsc", "nsc-0", "nsmgr")
	if again := next("nsc", "nsc-0", "nsmgr"); again != base {
		t.Fatalf("the same previous segment gave ids %q and %q", base, again)
	}
	// Overwriting another hop's segment (reselect) derives the same way.
	rec := &recorder{}
	_, err := chain.NewServer(updatepath.NewServer("nsmgr"), rec).Request(context.Background(),
		&networkservice.NetworkServiceRequest{Connection: conn("nsc-0", 0, seg("nsc", "nsc-0"), seg("old", "x"))})
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.requests[0].GetId(); got != base {
		t.Errorf("overwritten segment got %q, appended one %q", got, base)
	}
	for _, other := range []struct{ prevName, prevID, me string }{
		{"nsc", "nsc-1", "nsmgr"},
		{"nsc-b", "nsc-0", "nsmgr"},
		{"nsc", "nsc-0", "nsmgr-2"},
		// The same bytes, split differently.
		{"ns", "cnsc-0", "nsmgr"},
		{"nsc", "nsc-0n", "smgr"},
	} {
		if id := next(other.prevName, other.prevID, other.me); id == base {
			t.Errorf("%v gave the id of {nsc nsc-0 nsmgr}", other)
		}
	}
}
