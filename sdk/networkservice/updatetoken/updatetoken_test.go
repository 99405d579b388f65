// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package updatetoken_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/networkservice/updatepath"
	"github.com/nsmesh/nsmesh/sdk/networkservice/updatetoken"
	"github.com/nsmesh/nsmesh/sdk/token"
	"github.com/nsmesh/nsmesh/sdk/tools/fakes"
	"github.com/nsmesh/nsmesh/sdk/tools/log"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	nscID   = "spiffe://test.com/nsc"
	nsmgrID = "spiffe://test.com/nsmgr"
	nseID   = "spiffe://test.com/nse"
)

type world struct {
	ca              *fakes.SPIFFECA
	nsc, nsmgr, nse *fakes.SVID
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ca, err := fakes.NewSPIFFECA("test.com")
	if err != nil {
		t.Fatal(err)
	}
	w := &world{ca: ca}
	for id, p := range map[string]**fakes.SVID{nscID: &w.nsc, nsmgrID: &w.nsmgr, nseID: &w.nse} {
		if *p, err = ca.Issue(id, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

func gen(t *testing.T, s *fakes.SVID) token.Generator {
	t.Helper()
	g, err := s.Generator(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// recorder ends a chain, keeping a copy of what reached it.
type recorder struct {
	requests, closes []*networkservice.Connection
}

func (r *recorder) Request(_ context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	r.requests = append(r.requests, req.GetConnection().Clone())
	return req.GetConnection(), nil
}

func (r *recorder) Close(_ context.Context, c *networkservice.Connection) (*emptypb.Empty, error) {
	r.closes = append(r.closes, c.Clone())
	return &emptypb.Empty{}, nil
}

func verify(t *testing.T, s *networkservice.PathSegment, signer *fakes.SVID, aud ...string) {
	t.Helper()
	c, err := token.Verify(s.GetToken(), &signer.Key.PublicKey)
	if err != nil {
		t.Fatalf("segment %s: %v", s.GetName(), err)
	}
	if c.Subject != signer.ID || !slices.Equal(c.Audience, aud) {
		t.Errorf("segment %s: sub %s aud %v, want sub %s aud %v", s.GetName(), c.Subject, c.Audience, signer.ID, aud)
	}
	if !s.GetExpires().AsTime().Equal(c.Expires) {
		t.Errorf("segment %s: expires %s, exp claim %s", s.GetName(), s.GetExpires().AsTime(), c.Expires)
	}
}

func TestServer(t *testing.T) {
	w := newWorld(t)
	callerTok, err := token.Sign(w.nsc.Key, token.Claims{Subject: nscID, Audience: []string{nseID}, Expires: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	callerExp := time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)
	expStr := callerExp.Format(time.RFC3339Nano)
	stale := &networkservice.PathSegment{Name: "nsc", Id: "a", Token: "stale", Expires: timestamppb.New(time.Unix(1, 0))}
	withPeer := func(md metadata.MD) context.Context {
		ctx := peer.NewContext(context.Background(), &peer.Peer{AuthInfo: w.nsc.AuthInfo()})
		if md != nil {
			ctx = metadata.NewIncomingContext(ctx, md)
		}
		return ctx
	}
	failing := token.GeneratorFunc(func(credentials.AuthInfo) (string, time.Time, error) {
		return "", time.Time{}, errors.New("signer gone")
	})

	tests := []struct {
		name      string
		ctx       context.Context
		gen       token.Generator
		in        *networkservice.Connection
		wantPrev  string // token expected in path[index-1]; "" when there is none
		wantAud   []string
		wantCode  codes.Code
		closeGoes bool // Close still passes on despite the error
	}{
		{
			name:     "caller token copied, own token for the caller",
			ctx:      withPeer(metadata.Pairs(token.MetadataKey, callerTok, token.MetadataExpiresKey, expStr)),
			in:       pathAt(1, stale.Clone(), seg("nse", "b")),
			wantPrev: callerTok,
			wantAud:  []string{nscID},
		},
		{
			name:     "no metadata: previous segment left alone",
			ctx:      withPeer(nil),
			in:       pathAt(1, stale.Clone(), seg("nse", "b")),
			wantPrev: "stale",
			wantAud:  []string{nscID},
		},
		{
			name: "first segment: metadata has nowhere to go",
			ctx:  withPeer(metadata.Pairs(token.MetadataKey, callerTok, token.MetadataExpiresKey, expStr)),
			in:   pathAt(0, seg("nse", "b")),
			// the own token still names the TLS peer
			wantAud: []string{nscID},
		},
		{
			name: "no peer: own token without audience",
			ctx:  context.Background(),
			in:   pathAt(0, seg("nse", "b")),
		},
		{
			name:      "token sent twice",
			ctx:       withPeer(metadata.Pairs(token.MetadataKey, callerTok, token.MetadataKey, callerTok, token.MetadataExpiresKey, expStr)),
			in:        pathAt(1, stale.Clone(), seg("nse", "b")),
			wantCode:  codes.Unauthenticated,
			closeGoes: true,
		},
		{
			name:      "generator fails",
			ctx:       withPeer(nil),
			gen:       failing,
			in:        pathAt(1, stale.Clone(), seg("nse", "b")),
			wantCode:  codes.Internal,
			closeGoes: true,
		},
		{
			name:     "no segment at index: updatepath missing",
			ctx:      withPeer(nil),
			in:       pathAt(2, stale.Clone(), seg("nse", "b")),
			wantCode: codes.Internal,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := tt.gen
			if g == nil {
				g = gen(t, w.nse)
			}
			rec := &recorder{}
			srv := chain.NewServer(updatetoken.NewServer(g, updatetoken.WithLogger(log.Discard())), rec)
			_, err := srv.Request(tt.ctx, &networkservice.NetworkServiceRequest{Connection: tt.in.Clone()})
			if status.Code(err) != tt.wantCode {
				t.Fatalf("Request: %v, want code %v", err, tt.wantCode)
			}
			if err != nil {
				if !strings.HasPrefix(status.Convert(err).Message(), "updatetoken: ") {
					t.Errorf("message %q", status.Convert(err).Message())
				}
				if len(rec.requests) != 0 {
					t.Error("refused request reached the next element")
				}
			} else {
				check(t, w, rec.requests[0], tt.wantPrev, callerExp, tt.wantAud)
			}

			_, err = srv.Close(tt.ctx, tt.in.Clone())
			if err != nil {
				t.Fatalf("Close: %v", err)
			}
			if tt.wantCode == codes.OK {
				check(t, w, rec.closes[0], tt.wantPrev, callerExp, tt.wantAud)
			} else if tt.closeGoes && len(rec.closes) != 1 {
				t.Error("Close did not go on")
			}
		})
	}
}

func check(t *testing.T, w *world, got *networkservice.Connection, wantPrev string, callerExp time.Time, aud []string) {
	t.Helper()
	verify(t, got.GetCurrentPathSegment(), w.nse, aud...)
	prev := got.GetPrevPathSegment()
	if prev.GetToken() != wantPrev {
		t.Errorf("previous token %.20q, want %.20q", prev.GetToken(), wantPrev)
	}
	if wantPrev != "" && wantPrev != "stale" && !prev.GetExpires().AsTime().Equal(callerExp) {
		t.Errorf("previous expires %s, want %s", prev.GetExpires().AsTime(), callerExp)
	}
}

func seg(name, id string) *networkservice.PathSegment {
	return &networkservice.PathSegment{Name: name, Id: id}
}

func pathAt(index uint32, segs ...*networkservice.PathSegment) *networkservice.Connection {
	return &networkservice.Connection{Id: segs[min(int(index), len(segs)-1)].GetId(), Path: &networkservice.Path{Index: index, PathSegments: segs}}
}

func TestClient(t *testing.T) {
	w := newWorld(t)
	rec := &recorder{}
	c := chain.NewClient(updatepath.NewClient("nsc"), updatetoken.NewClient(gen(t, w.nsc)), &toServer{rec})
	conn, err := c.Request(context.Background(), &networkservice.NetworkServiceRequest{Connection: &networkservice.Connection{}})
	if err != nil {
		t.Fatal(err)
	}
	verify(t, rec.requests[0].GetCurrentPathSegment(), w.nsc)
	if _, err := c.Close(context.Background(), conn); err != nil {
		t.Fatal(err)
	}
	verify(t, rec.closes[0].GetCurrentPathSegment(), w.nsc)

	_, err = chain.NewClient(updatetoken.NewClient(nil)).Request(context.Background(),
		&networkservice.NetworkServiceRequest{Connection: pathAt(0, seg("nsc", "a"))})
	if status.Code(err) != codes.Internal {
		t.Errorf("nil generator: %v", err)
	}
}

// toServer ends a client chain in a server, in process.
type toServer struct {
	s networkservice.NetworkServiceServer
}

func (c *toServer) Request(ctx context.Context, req *networkservice.NetworkServiceRequest, _ ...grpc.CallOption) (*networkservice.Connection, error) {
	return c.s.Request(ctx, req)
}

func (c *toServer) Close(ctx context.Context, conn *networkservice.Connection, _ ...grpc.CallOption) (*emptypb.Empty, error) {
	return c.s.Close(ctx, conn)
}

// toClient ends a server chain in a client chain, as connect does.
type toClient struct {
	c networkservice.NetworkServiceClient
}

func (s *toClient) Request(ctx context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	return s.c.Request(ctx, req)
}

func (s *toClient) Close(ctx context.Context, conn *networkservice.Connection) (*emptypb.Empty, error) {
	return s.c.Close(ctx, conn)
}

// NSC → nsmgr → NSE over mTLS gRPC: every segment ends with the token of its
// hop, addressed to the next hop (the last to its caller).
func TestOverGRPC(t *testing.T) {
	w := newWorld(t)
	rec := &recorder{}
	nse := chain.NewServer(updatepath.NewServer("nse"), updatetoken.NewServer(gen(t, w.nse)), rec)
	toNSE, err := fakes.ServeTLSHop(nse, w.ca, w.nse, w.nsmgr, gen(t, w.nsmgr))
	if err != nil {
		t.Fatal(err)
	}
	defer toNSE.Stop()
	nsmgr := chain.NewServer(updatepath.NewServer("nsmgr"), updatetoken.NewServer(gen(t, w.nsmgr)),
		&toClient{chain.NewClient(updatepath.NewClient("nsmgr"), toNSE.Client)})
	toNSMgr, err := fakes.ServeTLSHop(nsmgr, w.ca, w.nsmgr, w.nsc, gen(t, w.nsc))
	if err != nil {
		t.Fatal(err)
	}
	defer toNSMgr.Stop()
	nsc := chain.NewClient(updatepath.NewClient("nsc"), updatetoken.NewClient(gen(t, w.nsc)), toNSMgr.Client)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := nsc.Request(ctx, &networkservice.NetworkServiceRequest{Connection: &networkservice.Connection{}})
	if err != nil {
		t.Fatal(err)
	}
	segs := conn.GetPath().GetPathSegments()
	if len(segs) != 3 {
		t.Fatalf("path %v", conn.GetPath())
	}
	verify(t, segs[0], w.nsc, nsmgrID)
	verify(t, segs[1], w.nsmgr, nseID)
	verify(t, segs[2], w.nse, nsmgrID)

	if _, err := nsc.Close(ctx, conn); err != nil {
		t.Fatal(err)
	}
	closed := rec.closes[0].GetPath().GetPathSegments()
	verify(t, closed[0], w.nsc, nsmgrID)
	verify(t, closed[1], w.nsmgr, nseID)
	verify(t, closed[2], w.nse, nsmgrID)
}
