// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package fdpass

import (
	"context"
	"os"

	"github.com/edwarnicke/grpcfd"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/common"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/core/metadata"
	"github.com/nsmesh/nsmesh/sdk/tools/log"
)

// files are the descriptors a connection holds, by inode URL.
type files map[string]*os.File

func (fs files) closeAll() {
	for k, f := range fs {
		_ = f.Close()
		delete(fs, k)
	}
}

// keep closes the files whose inode URL is not in used.
func (fs files) keep(used map[string]string) {
	inUse := make(map[string]bool, len(used))
	for _, inode := range used {
		inUse[inode] = true
	}
	for k, f := range fs {
		if !inUse[k] {
			_ = f.Close()
			delete(fs, k)
		}
	}
}

var serverFilesKey = metadata.NewKey[files]("fdpass.server.files")

// receivedKey carries, within one call, the file URLs NewRecvServer made
// (file URL → inode URL), so NewSendServer swaps them back instead of
// sending the caller its own descriptor.
type receivedKey struct{}

// NewRecvServer returns the element that receives the descriptors a client
// sends with its request.
func NewRecvServer(opts ...Option) networkservice.NetworkServiceServer {
	return &recvServer{o: build(opts)}
}

type recvServer struct {
	chain.ServerLink
	o options
}

func (s *recvServer) Request(ctx context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	fs, established := serverFilesKey.Load(ctx, metadata.Server)
	if !established {
		fs = files{}
	}
	fail := func(err error) (*networkservice.Connection, error) {
		if !established {
			fs.closeAll()
		}
		return nil, err
	}
	swapped, err := s.swapIn(ctx, mechanismsOf(req), fs)
	if err != nil {
		return fail(err)
	}
	if len(swapped) > 0 && !established {
		if !serverFilesKey.Store(ctx, metadata.Server, fs) {
			return fail(status.Error(codes.Internal, "fdpass: no per-connection metadata; the server chain needs begin before NewRecvServer"))
		}
	}
	conn, err := s.Next().Request(context.WithValue(ctx, receivedKey{}, swapped), req)
	if err != nil {
		return fail(err)
	}
	swapBack(conn.GetMechanism(), swapped)
	fs.keep(swapped)
	return conn, nil
}

// swapIn replaces inode URLs in ms by the URLs of received files.
func (s *recvServer) swapIn(ctx context.Context, ms []*networkservice.Mechanism, fs files) (map[string]string, error) {
	var recver grpcfd.FDRecver
	swapped := make(map[string]string)
	for _, m := range ms {
		inode, _, ok := paramURL(m, inodeScheme)
		if !ok {
			continue
		}
		f, have := fs[inode]
		if !have {
			if recver == nil {
				t, ok := grpcfd.FromContext(ctx)
				if !ok {
					return nil, status.Errorf(codes.FailedPrecondition, "fdpass: %s arrived over a connection that cannot carry file descriptors; use a unix socket with fdpass.DialOptions/ServerOptions", inode)
				}
				recver = t
			}
			var err error
			if f, err = receive(ctx, recver, inode, s.o.timeout, true); err != nil {
				return nil, status.Errorf(codes.FailedPrecondition, "fdpass: %v (does the client wrap its credentials with grpcfd?)", err)
			}
			fs[inode] = f
		}
		local := fileURL(f)
		m.Parameters[common.InodeURL] = local
		swapped[local] = inode
	}
	return swapped, nil
}

func (s *recvServer) Close(ctx context.Context, conn *networkservice.Connection) (*emptypb.Empty, error) {
	fs, ok := serverFilesKey.Load(ctx, metadata.Server)
	if !ok {
		return s.Next().Close(ctx, conn)
	}
	// Downstream elements undo what they did with the files, so they get
	// the local URLs again; a descriptor sent with the Close is not needed.
	conn = conn.Clone()
	if m := conn.GetMechanism(); m != nil {
		if inode, _, ok := paramURL(m, inodeScheme); ok {
			if f, ok := fs[inode]; ok {
				m.Parameters[common.InodeURL] = fileURL(f)
			}
		}
	}
	out, err := s.Next().Close(ctx, conn)
	fs.closeAll()
	serverFilesKey.Delete(ctx, metadata.Server)
	return out, err
}

// NewSendServer returns the element that sends the files named in the
// returned mechanism back to the client.
func NewSendServer(opts ...Option) networkservice.NetworkServiceServer {
	return &sendServer{o: build(opts)}
}

type sendServer struct {
	chain.ServerLink
	o options
}

func (s *sendServer) Request(ctx context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	conn, err := s.Next().Request(ctx, req)
	if err != nil {
		return nil, err
	}
	m := conn.GetMechanism()
	raw, u, ok := paramURL(m, fileScheme)
	if !ok {
		return conn, nil
	}
	if received, _ := ctx.Value(receivedKey{}).(map[string]string); received != nil {
		if inode, ok := received[raw]; ok {
			m.Parameters[common.InodeURL] = inode
			return conn, nil
		}
	}
	sender, ok := grpcfd.FromContext(ctx)
	if !ok {
		return conn, nil // tcp: the peer shares no files with us anyway
	}
	inode, err := send(sender, u.Path)
	if err != nil {
		log.FromContext(ctx, s.o.logger).WithField("element", "fdpass").
			Warnf("cannot send %s back to the client: %v", raw, err)
		return conn, nil
	}
	m.Parameters[common.InodeURL] = inode
	return conn, nil
}

func (s *sendServer) Close(ctx context.Context, conn *networkservice.Connection) (*emptypb.Empty, error) {
	return s.Next().Close(ctx, conn)
}

var (
	_ networkservice.NetworkServiceServer = (*recvServer)(nil)
	_ networkservice.NetworkServiceServer = (*sendServer)(nil)
)
