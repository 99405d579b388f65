// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package fdpass

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/edwarnicke/grpcfd"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/common"
)

const (
	fileScheme  = "file"
	inodeScheme = "inode"
)

// mechanismsOf returns the mechanisms of a request whose parameters may name
// files: the selected one and the preferences.
func mechanismsOf(req *networkservice.NetworkServiceRequest) []*networkservice.Mechanism {
	out := make([]*networkservice.Mechanism, 0, 1+len(req.GetMechanismPreferences()))
	if m := req.GetConnection().GetMechanism(); m != nil {
		out = append(out, m)
	}
	return append(out, req.GetMechanismPreferences()...)
}

// paramURL returns the parsed inodeURL parameter of m when it has scheme.
func paramURL(m *networkservice.Mechanism, scheme string) (string, *url.URL, bool) {
	raw, ok := m.GetParameters()[common.InodeURL]
	if !ok || raw == "" {
		return "", nil, false
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != scheme {
		return "", nil, false
	}
	return raw, u, true
}

// fileURL is the local URL of a received file.
func fileURL(f *os.File) string {
	return (&url.URL{Scheme: fileScheme, Path: f.Name()}).String()
}

// swapBack replaces, in m, a URL that is a key of back by its value.
func swapBack(m *networkservice.Mechanism, back map[string]string) {
	raw, ok := m.GetParameters()[common.InodeURL]
	if !ok {
		return
	}
	if orig, ok := back[raw]; ok {
		m.Parameters[common.InodeURL] = orig
	}
}

// send queues the file at path on sender and returns its inode URL.
func send(sender grpcfd.FDSender, path string) (string, error) {
	u, err := grpcfd.FilenameToURL(path)
	if err != nil {
		return "", err
	}
	errCh := sender.SendFilename(path)
	select {
	case err := <-errCh:
		// An immediate answer is a failure to open; success is only reported
		// once the message carrying the descriptor is written.
		if err != nil {
			return "", err
		}
	default:
	}
	return u.String(), nil
}

var errNotReceived = errors.New("no file descriptor arrived")

// receive waits for the descriptor of inodeURL. With drain, a descriptor
// that arrives after we gave up is closed by a goroutine that lives until
// it arrives or the transport closes; use it only where recver is the
// transport itself (server side), whose channels close with it.
func receive(ctx context.Context, recver grpcfd.FDRecver, inodeURL string, timeout time.Duration, drain bool) (*os.File, error) {
	ch, err := recver.RecvFileByURL(inodeURL)
	if err != nil {
		return nil, fmt.Errorf("bad inode URL %q: %w", inodeURL, err)
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case f, ok := <-ch:
		if !ok || f == nil {
			return nil, fmt.Errorf("%w for %s: the connection closed", errNotReceived, inodeURL)
		}
		return f, nil
	case <-ctx.Done():
		if drain {
			go closeLate(ch)
		}
		return nil, ctx.Err()
	case <-t.C:
		if drain {
			go closeLate(ch)
		}
		return nil, fmt.Errorf("%w for %s within %s", errNotReceived, inodeURL, timeout)
	}
}

// closeLate closes a descriptor that arrives after we stopped waiting; the
// channel is closed when the transport closes, so this ends with it.
func closeLate(ch <-chan *os.File) {
	if f, ok := <-ch; ok && f != nil {
		_ = f.Close()
	}
}
