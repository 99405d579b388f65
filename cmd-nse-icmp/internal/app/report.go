// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package app

import (
	"context"
	"strings"

	"github.com/sirupsen/logrus"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	kernelmech "github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/kernel"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/core/metadata"
)

// reportedKey marks a connection whose establishment was logged.
var reportedKey = metadata.NewKey[bool]("nse-icmp.reported")

// report logs each connection once when it is established (INFO), its
// refreshes (DEBUG) and its Close (INFO), so an operator sees who is
// connected with which addresses.
type report struct {
	chain.ServerLink
	log logrus.FieldLogger
}

func newReport(log logrus.FieldLogger) *report { return &report{log: log} }

func (r *report) Request(ctx context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	conn, err := r.Next().Request(ctx, req)
	if err != nil {
		if _, established := reportedKey.Load(ctx, metadata.Server); !established {
			r.log.WithField("conn", req.GetConnection().GetId()).WithError(err).Warn("request refused")
		}
		return nil, err
	}
	entry := r.log.WithFields(connFields(conn))
	if _, established := reportedKey.Load(ctx, metadata.Server); established {
		entry.Debug("connection refreshed")
		return conn, nil
	}
	reportedKey.Store(ctx, metadata.Server, true)
	entry.Info("connection established")
	return conn, nil
}

func (r *report) Close(ctx context.Context, conn *networkservice.Connection) (*emptypb.Empty, error) {
	out, err := r.Next().Close(ctx, conn)
	entry := r.log.WithFields(logrus.Fields{"conn": conn.GetId(), "service": conn.GetNetworkService()})
	if err != nil {
		entry.WithError(err).Warn("close")
	} else {
		entry.Info("connection closed")
	}
	return out, err
}

// connFields describes a connection for the log.
func connFields(conn *networkservice.Connection) logrus.Fields {
	var path []string
	for _, s := range conn.GetPath().GetPathSegments() {
		path = append(path, s.GetName())
	}
	ipc := conn.GetContext().GetIpContext()
	f := logrus.Fields{
		"conn":    conn.GetId(),
		"service": conn.GetNetworkService(),
		"src":     strings.Join(ipc.GetSrcIpAddrs(), ","),
		"dst":     strings.Join(ipc.GetDstIpAddrs(), ","),
		"path":    strings.Join(path, " > "),
	}
	if k := kernelmech.ToMechanism(conn.GetMechanism()); k != nil {
		f["interface"] = k.GetInterfaceName()
	}
	return f
}

var _ networkservice.NetworkServiceServer = (*report)(nil)
