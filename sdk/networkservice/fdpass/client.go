// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package fdpass

import (
	"context"

	"github.com/edwarnicke/grpcfd"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/common"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/core/metadata"
	"github.com/nsmesh/nsmesh/sdk/tools/clienturlctx"
	"github.com/nsmesh/nsmesh/sdk/tools/log"
)

// canCarry reports whether the next hop is reached over a unix socket; on
// tcp there is no descriptor passing. Without a URL in the context (an
// injected conn) we try.
func canCarry(ctx context.Context) bool {
	u := clienturlctx.ClientURL(ctx)
	return u == nil || u.Scheme == "unix"
}

// fdCreds returns the grpcfd per-RPC credentials for a call, reusing those
// an earlier element put into opts, and opts extended with them.
func fdCreds(opts []grpc.CallOption) (grpcfd.FDTransceiver, []grpc.CallOption) {
	creds := grpcfd.PerRPCCredentials(grpcfd.PerRPCCredentialsFromCallOptions(opts...))
	t, _ := grpcfd.FromPerRPCCredentials(creds)
	return t, append(opts, grpc.PerRPCCredentials(creds))
}

// sentKey carries, within one call, the inode URLs NewSendClient sent, so a
// NewRecvClient placed after it does not wait for them to come back.
type sentKey struct{}

// NewSendClient returns the element that sends the files named in a
// request's mechanisms.
func NewSendClient(opts ...Option) networkservice.NetworkServiceClient {
	return &sendClient{o: build(opts)}
}

type sendClient struct {
	chain.ClientLink
	o options
}

func (c *sendClient) Request(ctx context.Context, req *networkservice.NetworkServiceRequest, opts ...grpc.CallOption) (*networkservice.Connection, error) {
	if !canCarry(ctx) {
		return c.Next().Request(ctx, req, opts...)
	}
	sender, opts := fdCreds(opts)
	back, err := c.swapOut(mechanismsOf(req), sender)
	if err != nil {
		return nil, err
	}
	conn, err := c.Next().Request(context.WithValue(ctx, sentKey{}, back), req, opts...)
	if err != nil {
		return nil, err
	}
	swapBack(conn.GetMechanism(), back)
	return conn, nil
}

// swapOut sends the files named in ms and rewrites their URLs to inode
// URLs; it returns inode URL → original URL.
func (c *sendClient) swapOut(ms []*networkservice.Mechanism, sender grpcfd.FDSender) (map[string]string, error) {
	back := make(map[string]string)
	sent := make(map[string]string) // path → inode URL
	for _, m := range ms {
		raw, u, ok := paramURL(m, fileScheme)
		if !ok {
			continue
		}
		inode, ok := sent[u.Path]
		if !ok {
			var err error
			if inode, err = send(sender, u.Path); err != nil {
				return nil, status.Errorf(codes.FailedPrecondition, "fdpass: cannot pass %s: %v", raw, err)
			}
			sent[u.Path] = inode
		}
		m.Parameters[common.InodeURL] = inode
		back[inode] = raw
	}
	return back, nil
}

func (c *sendClient) Close(ctx context.Context, conn *networkservice.Connection, opts ...grpc.CallOption) (*emptypb.Empty, error) {
	if !canCarry(ctx) {
		return c.Next().Close(ctx, conn, opts...)
	}
	sender, opts := fdCreds(opts)
	conn = conn.Clone()
	back, err := c.swapOut(mechanismsOf(&networkservice.NetworkServiceRequest{Connection: conn}), sender)
	if err != nil {
		// The file may be gone already (the workload exited); Close anyway.
		log.FromContext(ctx, c.o.logger).WithField("element", "fdpass").Warnf("closing %s without its files: %v", conn.GetId(), err)
	}
	return c.Next().Close(context.WithValue(ctx, sentKey{}, back), conn, opts...)
}

var clientFilesKey = metadata.NewKey[files]("fdpass.client.files")

// NewRecvClient returns the element that receives the files a server names
// in the returned mechanism.
func NewRecvClient(opts ...Option) networkservice.NetworkServiceClient {
	return &recvClient{o: build(opts)}
}

type recvClient struct {
	chain.ClientLink
	o options
}

func (c *recvClient) Request(ctx context.Context, req *networkservice.NetworkServiceRequest, opts ...grpc.CallOption) (*networkservice.Connection, error) {
	if !canCarry(ctx) {
		return c.Next().Request(ctx, req, opts...)
	}
	recver, opts := fdCreds(opts)
	conn, err := c.Next().Request(ctx, req, opts...)
	if err != nil {
		return nil, err
	}
	m := conn.GetMechanism()
	inode, _, ok := paramURL(m, inodeScheme)
	if !ok {
		return conn, nil
	}
	if sent, _ := ctx.Value(sentKey{}).(map[string]string); sent != nil {
		if _, ours := sent[inode]; ours {
			return conn, nil
		}
	}
	fs, established := clientFilesKey.Load(ctx, metadata.Client)
	if !established {
		fs = files{}
	}
	f, have := fs[inode]
	if !have {
		f, err = receive(ctx, recver, inode, c.o.timeout, false)
		if err != nil {
			log.FromContext(ctx, c.o.logger).WithField("element", "fdpass").
				Warnf("server named %s without sending it: %v", inode, err)
			return conn, nil
		}
		fs[inode] = f
	}
	if !established && !clientFilesKey.Store(ctx, metadata.Client, fs) {
		fs.closeAll()
		return nil, status.Error(codes.Internal, "fdpass: no per-connection metadata; the client chain needs begin before NewRecvClient")
	}
	m.Parameters[common.InodeURL] = fileURL(f)
	fs.keep(map[string]string{"": inode})
	return conn, nil
}

func (c *recvClient) Close(ctx context.Context, conn *networkservice.Connection, opts ...grpc.CallOption) (*emptypb.Empty, error) {
	fs, ok := clientFilesKey.Load(ctx, metadata.Client)
	if !ok {
		return c.Next().Close(ctx, conn, opts...)
	}
	// The server knows the file by its inode URL.
	conn = conn.Clone()
	back := make(map[string]string, len(fs))
	for inode, f := range fs {
		back[fileURL(f)] = inode
	}
	swapBack(conn.GetMechanism(), back)
	out, err := c.Next().Close(ctx, conn, opts...)
	fs.closeAll()
	clientFilesKey.Delete(ctx, metadata.Client)
	return out, err
}

var (
	_ networkservice.NetworkServiceClient = (*sendClient)(nil)
	_ networkservice.NetworkServiceClient = (*recvClient)(nil)
)
