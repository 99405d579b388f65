// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package connect_test

import (
	"context"
	"errors"
	"testing"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/core/begin"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/networkservice/connect"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// downstream is a fake client chain.
type downstream struct {
	requests, closes int
	closedWith       *networkservice.Connection
	closeCtxErr      error
	reqErr, closeErr error
}

func (d *downstream) Request(_ context.Context, req *networkservice.NetworkServiceRequest, _ ...grpc.CallOption) (*networkservice.Connection, error) {
	d.requests++
	if d.reqErr != nil {
		return nil, d.reqErr
	}
	conn := req.GetConnection().Clone()
	conn.Labels = map[string]string{"from": "downstream"}
	return conn, nil
}

func (d *downstream) Close(ctx context.Context, conn *networkservice.Connection, _ ...grpc.CallOption) (*emptypb.Empty, error) {
	d.closes++
	d.closedWith = conn
	d.closeCtxErr = ctx.Err()
	return &emptypb.Empty{}, d.closeErr
}

// rest is the remainder of the server chain after connect.
type rest struct {
	requests, closes int
	sawLabel         string
	reqErr, closeErr error
}

func (r *rest) Request(_ context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	r.requests++
	r.sawLabel = req.GetConnection().GetLabels()["from"]
	if r.reqErr != nil {
		return nil, r.reqErr
	}
	return req.GetConnection(), nil
}

func (r *rest) Close(context.Context, *networkservice.Connection) (*emptypb.Empty, error) {
	r.closes++
	return &emptypb.Empty{}, r.closeErr
}

func TestServerRequest(t *testing.T) {
	errDown := status.Error(codes.NotFound, "no endpoint")
	errRest := status.Error(codes.Internal, "data plane failed")
	tests := []struct {
		name            string
		down            downstream
		rest            rest
		cancelled       bool
		wantErr         error
		wantRestCalls   int
		wantClientClose int
	}{
		{name: "success continues with the client's connection", wantRestCalls: 1},
		{name: "client failure stops the chain", down: downstream{reqErr: errDown}, wantErr: errDown},
		{name: "server chain failure closes the client connection", rest: rest{reqErr: errRest}, wantErr: errRest, wantRestCalls: 1, wantClientClose: 1},
		{name: "clean-up survives a cancelled request", rest: rest{reqErr: errRest}, cancelled: true, wantErr: errRest, wantRestCalls: 1, wantClientClose: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			down, r := tt.down, tt.rest
			srv := chain.NewServer(connect.NewServer(&down), &r)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancelled {
				r.reqErr = errRest
				srv = chain.NewServer(connect.NewServer(&down), &cancelThen{cancel: cancel, next: &r})
			}
			conn, err := srv.Request(ctx, &networkservice.NetworkServiceRequest{Connection: &networkservice.Connection{Id: "c"}})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if r.requests != tt.wantRestCalls {
				t.Fatalf("server chain after connect ran %d times, want %d", r.requests, tt.wantRestCalls)
			}
			if tt.wantRestCalls > 0 && r.sawLabel != "downstream" {
				t.Fatal("server chain did not continue with the client's connection")
			}
			if down.closes != tt.wantClientClose {
				t.Fatalf("client closed %d times, want %d", down.closes, tt.wantClientClose)
			}
			if down.closes > 0 {
				if down.closedWith.GetLabels()["from"] != "downstream" {
					t.Fatal("client was not closed with the connection it returned")
				}
				if down.closeCtxErr != nil {
					t.Fatalf("clean-up Close ran with a dead context: %v", down.closeCtxErr)
				}
			}
			if err == nil && conn.GetLabels()["from"] != "downstream" {
				t.Fatal("result is not the client's connection")
			}
		})
	}
}

// cancelThen cancels the request context before failing, like a caller
// that gave up while the data plane was being programmed.
type cancelThen struct {
	cancel context.CancelFunc
	next   *rest
}

func (c *cancelThen) Request(ctx context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	c.cancel()
	return c.next.Request(ctx, req)
}

func (c *cancelThen) Close(ctx context.Context, conn *networkservice.Connection) (*emptypb.Empty, error) {
	return c.next.Close(ctx, conn)
}

func TestServerClose(t *testing.T) {
	errDown := status.Error(codes.Unavailable, "forwarder gone")
	errRest := status.Error(codes.Internal, "cleanup failed")
	tests := []struct {
		name    string
		down    downstream
		rest    rest
		wantErr error
	}{
		{name: "both closed"},
		{name: "client failure still closes the server chain", down: downstream{closeErr: errDown}, wantErr: errDown},
		{name: "server chain failure reported", rest: rest{closeErr: errRest}, wantErr: errRest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			down, r := tt.down, tt.rest
			srv := chain.NewServer(connect.NewServer(&down), &r)
			_, err := srv.Close(context.Background(), &networkservice.Connection{Id: "c"})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if down.closes != 1 || r.closes != 1 {
				t.Fatalf("closes: client %d, server chain %d; want 1, 1", down.closes, r.closes)
			}
		})
	}
}

func TestClientWithoutConn(t *testing.T) {
	cli := chain.NewClient(begin.NewClient(nil), connect.NewClient())
	_, err := cli.Request(context.Background(), &networkservice.NetworkServiceRequest{Connection: &networkservice.Connection{Id: "c"}})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("want Unavailable, got %v", err)
	}
	_, err = connect.NewClient().Close(context.Background(), &networkservice.Connection{Id: "c"})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("Close: want Unavailable, got %v", err)
	}
}
