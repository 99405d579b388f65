// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package command

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/sirupsen/logrus"
)

// DefaultPprofListenOn is upstream's NSM_PPROF_LISTEN_ON default: loopback
// only, because the profiles show the process's memory.
const DefaultPprofListenOn = "localhost:6060"

// CheckPprofListenOn checks an NSM_PPROF_LISTEN_ON value (host:port).
func CheckPprofListenOn(addr string) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("NSM_PPROF_LISTEN_ON: bad value %q: want host:port, e.g. %s", addr, DefaultPprofListenOn)
	}
	return nil
}

// ServePprof serves the net/http/pprof handlers under /debug/pprof/ on addr
// until ctx ends, as upstream binaries do with NSM_PPROF_ENABLED. It returns
// once it listens; a listen failure is returned, so that a port clash stops
// the binary at start instead of silently disabling profiling.
func ServePprof(ctx context.Context, addr string, log logrus.FieldLogger) error {
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("command: pprof: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.WithError(err).Warn("pprof: serving stopped")
		}
	}()
	log.WithField("pprof", "http://"+l.Addr().String()+"/debug/pprof/").Info("pprof: serving profiles")
	return nil
}
