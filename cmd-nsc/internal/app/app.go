// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package app runs the network service client: one connection per
// NSM_NETWORK_SERVICES URL through the local nsmgr, each giving the
// workload's network namespace a kernel interface. The sdk client chain
// keeps them refreshed and heals them when a part of the mesh dies; they are
// closed when the client stops.
//
//	client chain (updatepath, begin, updatetoken, refresh, clienturl, heal, dial)
//	    heal: monitor at the nsmgr + kernel ping liveness check (NSM_LIVENESS_CHECK_*)
//	clientinfo    nodeName/podName/clusterName labels from the environment
//	mechanisms    KERNEL: this process's netns and the interface name
//	fdpass send   the netns travels to the nsmgr as a file descriptor
//	authorize, trimpath, connect
package app

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	kernelmech "github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/kernel"
	"github.com/nsmesh/nsmesh/apis/nsurl"
	"github.com/nsmesh/nsmesh/cmd-nsc/internal/config"
	"github.com/nsmesh/nsmesh/sdk/chains/client"
	"github.com/nsmesh/nsmesh/sdk/networkservice/clientinfo"
	"github.com/nsmesh/nsmesh/sdk/networkservice/fdpass"
	"github.com/nsmesh/nsmesh/sdk/networkservice/heal"
	"github.com/nsmesh/nsmesh/sdk/networkservice/liveness"
	"github.com/nsmesh/nsmesh/sdk/networkservice/mechanisms"
	"github.com/nsmesh/nsmesh/sdk/networkservice/mechanisms/kernel"
	"github.com/nsmesh/nsmesh/sdk/tools/spiffe"
)

// Default bounds of the wait between two attempts of a Request.
const (
	DefaultMinBackoff = 500 * time.Millisecond
	DefaultMaxBackoff = 5 * time.Second
)

// Option configures Run.
type Option func(*options)

type options struct {
	minBackoff, maxBackoff time.Duration
	check                  heal.LivenessCheck
}

// WithBackoff sets the bounds of the wait between attempts: it starts at
// lower, doubles after each failure up to upper, and varies by ±20%.
func WithBackoff(lower, upper time.Duration) Option {
	return func(o *options) { o.minBackoff, o.maxBackoff = lower, upper }
}

// WithLivenessCheck replaces the kernel ping of the liveness check (used
// when NSM_LIVENESS_CHECK_ENABLED is true), e.g. by a check of a fake data
// plane in tests.
func WithLivenessCheck(check heal.LivenessCheck) Option {
	return func(o *options) { o.check = check }
}

// Run connects to every configured network service, retrying each until it
// succeeds, keeps the connections refreshed until ctx ends, then closes
// them. It returns an error only when the client cannot be built.
func Run(ctx context.Context, cfg *config.Config, logger *logrus.Logger, opts ...Option) error {
	o := options{minBackoff: DefaultMinBackoff, maxBackoff: DefaultMaxBackoff}
	for _, opt := range opts {
		opt(&o)
	}
	log := logger.WithFields(logrus.Fields{"component": "nsc", "name": cfg.Name})
	// mTLS to the nsmgr (plaintext only with NSM_INSECURE=true), path tokens
	// signed with the SVID key; fd passing wraps the credentials.
	ident, err := spiffe.Open(ctx, cfg.Identity, "nsc", cfg.Name, cfg.MaxTokenLifetime, spiffe.WithLogger(log))
	if err != nil {
		return fmt.Errorf("app: identity: %w", err)
	}
	defer func() { _ = ident.Close() }()
	gen := ident.TokenGenerator()
	dialOpts := append(fdpass.DialOptions(ident.ClientCredentials()), grpc.WithPerRPCCredentials(ident.PerRPCCredentials()))

	// The chain's timers (refresh) and connections must outlive ctx until
	// the connections are closed.
	chainCtx, stopChain := context.WithCancel(context.WithoutCancel(ctx))
	defer stopChain()
	kernelClient, err := kernel.NewClient()
	if err != nil {
		return fmt.Errorf("app: %w", err)
	}
	healer, err := newHeal(chainCtx, cfg, o, log)
	if err != nil {
		return fmt.Errorf("app: %w", err)
	}
	nsc, err := client.New(chainCtx, cfg.Name, gen,
		client.WithURL(cfg.ConnectTo),
		client.WithDialOptions(dialOpts...),
		client.WithDialTimeout(cfg.DialTimeout),
		client.WithHeal(healer),
		client.WithLogger(log),
		client.WithAdditionalFunctionality(
			clientinfo.NewClient(),
			mechanisms.NewClient(map[string]networkservice.NetworkServiceClient{kernelmech.MECHANISM: kernelClient}),
			fdpass.NewSendClient(fdpass.WithLogger(log)),
		))
	if err != nil {
		return fmt.Errorf("app: %w", err)
	}
	log.WithFields(logrus.Fields{"nsmgr": cfg.ConnectTo.String(), "services": len(cfg.NetworkServices)}).Info("connecting")

	var (
		mu    sync.Mutex
		conns []*networkservice.Connection
		wg    sync.WaitGroup
	)
	for i, u := range cfg.NetworkServices {
		wg.Go(func() {
			conn := connect(ctx, nsc, cfg, o, i, u, log)
			if conn == nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
		})
	}
	<-ctx.Done()
	wg.Wait()
	log.WithField("connections", len(conns)).Info("shutting down: closing the connections")
	for _, conn := range conns {
		wg.Go(func() {
			closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.RequestTimeout)
			defer cancel()
			entry := log.WithFields(logrus.Fields{"conn": conn.GetId(), "service": conn.GetNetworkService()})
			if _, err := nsc.Close(closeCtx, conn); err != nil {
				entry.WithError(err).Warn("close failed; the mesh closes the connection when it expires")
				return
			}
			entry.Info("closed")
		})
	}
	wg.Wait()
	return nil
}

// newHeal builds the heal element: it watches each connection at the nsmgr
// and, when enabled, pings its endpoint over the connection's interface in
// this process's network namespace.
func newHeal(ctx context.Context, cfg *config.Config, o options, log logrus.FieldLogger) (networkservice.NetworkServiceClient, error) {
	opts := []heal.Option{heal.WithLogger(log)}
	if cfg.LivenessCheckEnabled {
		check := o.check
		if check == nil {
			check = liveness.NewKernelCheck(liveness.WithLogger(log))
		}
		opts = append(opts,
			heal.WithLivenessCheck(check),
			heal.WithLivenessCheckInterval(cfg.LivenessCheckInterval),
			heal.WithLivenessCheckTimeout(cfg.LivenessCheckTimeout))
	}
	log.WithFields(logrus.Fields{
		"liveness_check": cfg.LivenessCheckEnabled, "interval": cfg.LivenessCheckInterval, "timeout": cfg.LivenessCheckTimeout,
	}).Debug("heal")
	return heal.NewClient(ctx, opts...)
}

// connect requests u as connection <name>-<i> until it succeeds or ctx ends.
func connect(ctx context.Context, nsc networkservice.NetworkServiceClient, cfg *config.Config, o options, i int, u *nsurl.URL, log logrus.FieldLogger) *networkservice.Connection {
	id := fmt.Sprintf("%s-%d", cfg.Name, i)
	labels := maps.Clone(cfg.Labels)
	maps.Copy(labels, u.Labels)
	backoff := o.minBackoff
	for attempt := 1; ; attempt++ {
		req := &networkservice.NetworkServiceRequest{
			Connection: &networkservice.Connection{
				Id:             id,
				NetworkService: u.NetworkService,
				Labels:         maps.Clone(labels),
			},
			MechanismPreferences: []*networkservice.Mechanism{u.MechanismPreference()},
		}
		attemptCtx, cancel := context.WithTimeout(ctx, cfg.RequestTimeout)
		start := time.Now()
		conn, err := nsc.Request(attemptCtx, req)
		timedOut := attemptCtx.Err() != nil
		cancel()
		if err == nil {
			log.WithFields(describe(conn)).WithFields(logrus.Fields{"attempts": attempt, "duration": time.Since(start).Round(time.Millisecond)}).
				Infof("connected to %s", u.NetworkService)
			return conn
		}
		if ctx.Err() != nil {
			return nil
		}
		wait := jitter(backoff)
		entry := log.WithFields(logrus.Fields{"conn": id, "service": u.NetworkService, "attempt": attempt})
		if reason, ok := unreachable(err, cfg); ok {
			entry.Errorf("request %s: nsmgr at %s is not reachable: %s; retrying in %s", u.NetworkService, cfg.ConnectTo, reason, wait)
		} else {
			entry.Warnf("request %s: %s; retrying in %s", u.NetworkService, explain(err, timedOut, cfg), wait)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		backoff = min(2*backoff, o.maxBackoff)
	}
}

// unreachable tells a failure to reach the nsmgr at all (the dial element
// names its URL) from an answer of the mesh, and says why: gRPC only reports
// a connection state, so the socket is dialled once more to get the
// operating system's reason (no such file, connection refused, ...).
func unreachable(err error, cfg *config.Config) (string, bool) {
	s, ok := status.FromError(err)
	prefix := "dial: " + cfg.ConnectTo.String() + " "
	if !ok || s.Code() != codes.Unavailable || !strings.HasPrefix(s.Message(), prefix) {
		return "", false
	}
	network, addr := "tcp", cfg.ConnectTo.Host
	if cfg.ConnectTo.Scheme == "unix" {
		network, addr = "unix", cfg.ConnectTo.Path
	}
	c, derr := net.DialTimeout(network, addr, cfg.DialTimeout)
	if derr == nil {
		_ = c.Close()
		return "it accepts connections but gRPC " + strings.TrimPrefix(s.Message(), prefix), true
	}
	if network == "unix" && errors.Is(derr, os.ErrNotExist) {
		return "no socket at " + addr + " (is the nsmgr running?)", true
	}
	return derr.Error(), true
}

// explain is the message of a failed attempt, without gRPC's prefix.
func explain(err error, timedOut bool, cfg *config.Config) string {
	msg := status.Convert(err).Message()
	if timedOut {
		return fmt.Sprintf("no answer within %s (NSM_REQUEST_TIMEOUT): %s", cfg.RequestTimeout, msg)
	}
	return msg
}

// jitter varies d by up to ±20%, rounded for the log.
func jitter(d time.Duration) time.Duration {
	f := 0.8 + 0.4*rand.Float64() //nolint:gosec // spreading retries needs no secure randomness
	return time.Duration(float64(d) * f).Round(10 * time.Millisecond)
}

// describe is what the log shows of an established connection.
func describe(conn *networkservice.Connection) logrus.Fields {
	var path []string
	for _, s := range conn.GetPath().GetPathSegments() {
		path = append(path, s.GetName())
	}
	ipc := conn.GetContext().GetIpContext()
	f := logrus.Fields{
		"conn":     conn.GetId(),
		"service":  conn.GetNetworkService(),
		"endpoint": conn.GetNetworkServiceEndpointName(),
		"src":      strings.Join(ipc.GetSrcIpAddrs(), ","),
		"dst":      strings.Join(ipc.GetDstIpAddrs(), ","),
		"path":     strings.Join(path, " > "),
	}
	if k := kernelmech.ToMechanism(conn.GetMechanism()); k != nil {
		f["interface"] = k.GetInterfaceName()
	}
	var dns []string
	for _, c := range conn.GetContext().GetDnsContext().GetConfigs() {
		dns = append(dns, strings.Join(c.GetDnsServerIps(), ","))
	}
	if len(dns) > 0 {
		f["dns"] = strings.Join(dns, ";")
	}
	return f
}
