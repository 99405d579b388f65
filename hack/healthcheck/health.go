// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// servingStatus is grpc.health.v1.HealthCheckResponse.ServingStatus.
type servingStatus uint64

const (
	statusUnknown        servingStatus = 0
	statusServing        servingStatus = 1
	statusNotServing     servingStatus = 2
	statusServiceUnknown servingStatus = 3
)

func (s servingStatus) String() string {
	switch s {
	case statusUnknown:
		return "UNKNOWN"
	case statusServing:
		return "SERVING"
	case statusNotServing:
		return "NOT_SERVING"
	case statusServiceUnknown:
		return "SERVICE_UNKNOWN"
	}
	return "status " + strconv.FormatUint(uint64(s), 10)
}

// maxResponse bounds what is read from the server: a health answer is a few
// bytes, anything much larger is not one.
const maxResponse = 4096

// check makes one Health/Check call over HTTP/2, with TLS when tlsConf is
// not nil, else in plaintext (what a gRPC server with insecure credentials
// speaks), and returns the status.
func check(ctx context.Context, t target, service string, tlsConf *tls.Config) (servingStatus, error) {
	protocols := new(http.Protocols)
	scheme := "http"
	if tlsConf != nil {
		protocols.SetHTTP2(true)
		scheme = "https"
	} else {
		protocols.SetUnencryptedHTTP2(true)
	}
	var d net.Dialer
	tr := &http.Transport{
		Protocols:       protocols,
		TLSClientConfig: tlsConf,
		// Every call goes to t whatever the URL says; for unix sockets the
		// URL's host is only the :authority header.
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, t.network, t.address)
		},
	}
	defer tr.CloseIdleConnections()

	host := t.address
	if t.network == "unix" {
		host = "localhost"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		(&url.URL{Scheme: scheme, Host: host, Path: "/grpc.health.v1.Health/Check"}).String(),
		bytes.NewReader(frame(encodeRequest(service))))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("Te", "trailers")
	if dl, ok := ctx.Deadline(); ok {
		req.Header.Set("Grpc-Timeout", grpcTimeout(time.Until(dl)))
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return 0, fmt.Errorf("call: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return 0, fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("HTTP status %d: not a gRPC server?", resp.StatusCode)
	}
	// A call that fails before any message is "trailers-only": its status
	// comes in the headers.
	code, msg := resp.Trailer.Get("Grpc-Status"), resp.Trailer.Get("Grpc-Message")
	if code == "" {
		code, msg = resp.Header.Get("Grpc-Status"), resp.Header.Get("Grpc-Message")
	}
	if code != "0" {
		if code == "" {
			return 0, errors.New("answer without grpc-status")
		}
		if m, err := url.PathUnescape(msg); err == nil {
			msg = m
		}
		return 0, fmt.Errorf("gRPC status %s: %s", code, msg)
	}
	if len(body) > maxResponse {
		return 0, fmt.Errorf("answer longer than %d bytes", maxResponse)
	}
	m, err := unframe(body)
	if err != nil {
		return 0, err
	}
	return decodeResponse(m)
}

// grpcTimeout formats d as a grpc-timeout header value (milliseconds).
func grpcTimeout(d time.Duration) string {
	ms := d.Milliseconds()
	if ms < 1 {
		ms = 1
	}
	return strconv.FormatInt(ms, 10) + "m"
}

// frame prefixes a message as gRPC's length-prefixed message: one byte
// "not compressed", four bytes big-endian length.
func frame(msg []byte) []byte {
	out := make([]byte, 5, 5+len(msg))
	binary.BigEndian.PutUint32(out[1:], uint32(len(msg)))
	return append(out, msg...)
}

// unframe returns the single message of a unary answer.
func unframe(b []byte) ([]byte, error) {
	if len(b) < 5 {
		return nil, fmt.Errorf("answer of %d bytes: no gRPC message", len(b))
	}
	if b[0] != 0 {
		return nil, errors.New("compressed answer (none was offered)")
	}
	n := binary.BigEndian.Uint32(b[1:5])
	if uint64(n) != uint64(len(b)-5) {
		return nil, fmt.Errorf("message length %d, but %d bytes follow", n, len(b)-5)
	}
	return b[5:], nil
}

// encodeRequest encodes HealthCheckRequest{service = 1}.
func encodeRequest(service string) []byte {
	if service == "" {
		return nil // proto3 omits the default value
	}
	b := []byte{1<<3 | 2} // field 1, length-delimited
	b = binary.AppendUvarint(b, uint64(len(service)))
	return append(b, service...)
}

// decodeResponse decodes HealthCheckResponse{status = 1}, skipping fields it
// does not know as protobuf readers must.
func decodeResponse(b []byte) (servingStatus, error) {
	var status servingStatus // absent means the default, UNKNOWN
	for len(b) > 0 {
		key, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, errors.New("bad protobuf: truncated field key")
		}
		b = b[n:]
		field, wire := key>>3, key&7
		if field == 0 {
			return 0, errors.New("bad protobuf: field number 0")
		}
		switch wire {
		case 0: // varint
			v, n := binary.Uvarint(b)
			if n <= 0 {
				return 0, errors.New("bad protobuf: truncated varint")
			}
			b = b[n:]
			if field == 1 {
				status = servingStatus(v)
			}
		case 1: // 64-bit
			if len(b) < 8 {
				return 0, errors.New("bad protobuf: truncated fixed64")
			}
			b = b[8:]
		case 2: // length-delimited
			l, n := binary.Uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return 0, errors.New("bad protobuf: truncated bytes field")
			}
			b = b[n+int(l):]
		case 5: // 32-bit
			if len(b) < 4 {
				return 0, errors.New("bad protobuf: truncated fixed32")
			}
			b = b[4:]
		default:
			return 0, fmt.Errorf("bad protobuf: wire type %d", wire)
		}
	}
	return status, nil
}
