// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Command nsmload is the load client of the end-to-end benchmarks: the sdk
// client chain as cmd-nsc builds it (fd passing, the KERNEL mechanism with
// its own network namespace, insecure per-RPC token credentials), run in a
// workload namespace, asking for a network service over and over.
//
//	-mode latency: each of -workers clients (own chain, own name) does -per
//	  Requests, each followed by a Close, one after the other; the time of
//	  every Request goes to stdout as JSON ({"request_ms": [...], ...}).
//	-mode hold: -conns connections are requested (-workers at a time); then
//	  "ready <n> ..." (with the Requests' p50 and p99) is printed and they are
//	  held until SIGTERM or SIGINT, when they are all closed and "closed <n>
//	  ..." is printed.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"os/signal"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	kernelmech "github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/kernel"
	"github.com/nsmesh/nsmesh/sdk/chains/client"
	"github.com/nsmesh/nsmesh/sdk/networkservice/fdpass"
	"github.com/nsmesh/nsmesh/sdk/networkservice/mechanisms"
	"github.com/nsmesh/nsmesh/sdk/networkservice/mechanisms/kernel"
	"github.com/nsmesh/nsmesh/sdk/token"
	"github.com/nsmesh/nsmesh/sdk/tools/command"
	"github.com/nsmesh/nsmesh/sdk/tools/grpcutils"
)

type flags struct {
	connect, service, mode, name string
	workers, per, conns          int
	timeout, lifetime            time.Duration
}

// Result is what latency mode prints.
type Result struct {
	RequestMS  []float64 `json:"request_ms"`
	CloseMS    []float64 `json:"close_ms"`
	Errors     int       `json:"errors"`
	FirstError string    `json:"first_error,omitempty"`
	WallMS     float64   `json:"wall_ms"`
}

func main() {
	var f flags
	flag.StringVar(&f.connect, "connect", "unix:///var/lib/networkservicemesh/nsm.io.sock", "the nsmgr's unix:// socket")
	flag.StringVar(&f.service, "service", "icmp-responder", "network service to request")
	flag.StringVar(&f.mode, "mode", "latency", "latency or hold")
	flag.StringVar(&f.name, "name", "load", "client name prefix (connection ids are <name>-<worker>-<n>)")
	flag.IntVar(&f.workers, "workers", 1, "concurrent clients")
	flag.IntVar(&f.per, "per", 200, "latency mode: Request+Close rounds per client")
	flag.IntVar(&f.conns, "conns", 500, "hold mode: connections to hold")
	flag.DurationVar(&f.timeout, "timeout", 15*time.Second, "timeout of each Request and Close")
	flag.DurationVar(&f.lifetime, "token-lifetime", 10*time.Minute, "lifetime of the client's tokens")
	flag.Parse()
	if err := run(f); err != nil {
		fmt.Fprintln(os.Stderr, "nsmload:", err)
		os.Exit(1)
	}
}

func run(f flags) error {
	u, err := grpcutils.ParseURL(f.connect)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	logger := logrus.New()
	logger.SetOutput(os.Stderr)
	logger.SetLevel(logrus.WarnLevel)
	clients := make([]networkservice.NetworkServiceClient, f.workers)
	chainCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := range clients {
		name := fmt.Sprintf("%s-%d", f.name, i)
		gen, err := command.DevIdentity("nsc", name, f.lifetime)
		if err != nil {
			return err
		}
		dialOpts := append(fdpass.DialOptions(insecure.NewCredentials()), grpc.WithPerRPCCredentials(token.NewInsecurePerRPCCredentials(gen)))
		k, err := kernel.NewClient()
		if err != nil {
			return err
		}
		if clients[i], err = client.New(chainCtx, name, gen,
			client.WithURL(u),
			client.WithDialOptions(dialOpts...),
			client.WithDialTimeout(5*time.Second),
			client.WithLogger(logger),
			client.WithAdditionalFunctionality(
				mechanisms.NewClient(map[string]networkservice.NetworkServiceClient{kernelmech.MECHANISM: k}),
				fdpass.NewSendClient(),
			)); err != nil {
			return err
		}
	}
	switch f.mode {
	case "latency":
		return latency(ctx, f, clients)
	case "hold":
		return hold(ctx, f, clients)
	}
	return fmt.Errorf("-mode %q: want latency or hold", f.mode)
}

func request(ctx context.Context, f flags, c networkservice.NetworkServiceClient, id string) (*networkservice.Connection, time.Duration, error) {
	rctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	start := time.Now()
	conn, err := c.Request(rctx, &networkservice.NetworkServiceRequest{
		Connection:           &networkservice.Connection{Id: id, NetworkService: f.service},
		MechanismPreferences: []*networkservice.Mechanism{kernelmech.New("")},
	})
	return conn, time.Since(start), err
}

func closeConn(ctx context.Context, f flags, c networkservice.NetworkServiceClient, conn *networkservice.Connection) (time.Duration, error) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), f.timeout)
	defer cancel()
	start := time.Now()
	_, err := c.Close(cctx, conn)
	return time.Since(start), err
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func latency(ctx context.Context, f flags, clients []networkservice.NetworkServiceClient) error {
	var (
		mu  sync.Mutex
		res Result
		wg  sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		res.Errors++
		if res.FirstError == "" {
			res.FirstError = err.Error()
		}
	}
	start := time.Now()
	for w, c := range clients {
		wg.Go(func() {
			for n := range f.per {
				if ctx.Err() != nil {
					return
				}
				conn, took, err := request(ctx, f, c, fmt.Sprintf("%s-%d-%d", f.name, w, n))
				if err != nil {
					fail(fmt.Errorf("request: %w", err))
					continue
				}
				closed, err := closeConn(ctx, f, c, conn)
				if err != nil {
					fail(fmt.Errorf("close: %w", err))
				}
				mu.Lock()
				res.RequestMS = append(res.RequestMS, ms(took))
				res.CloseMS = append(res.CloseMS, ms(closed))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	res.WallMS = ms(time.Since(start))
	return json.NewEncoder(os.Stdout).Encode(res)
}

func hold(ctx context.Context, f flags, clients []networkservice.NetworkServiceClient) error {
	type held struct {
		c    networkservice.NetworkServiceClient
		conn *networkservice.Connection
	}
	var (
		mu    sync.Mutex
		conns []held
		tooks []time.Duration
		next  atomic.Int64
		errs  atomic.Int64
		wg    sync.WaitGroup
	)
	start := time.Now()
	for w, c := range clients {
		wg.Go(func() {
			for ctx.Err() == nil {
				n := next.Add(1) - 1
				if n >= int64(f.conns) {
					return
				}
				conn, took, err := request(ctx, f, c, fmt.Sprintf("%s-%d-%d", f.name, w, n))
				if err != nil {
					if errs.Add(1) == 1 {
						fmt.Fprintln(os.Stderr, "nsmload: request:", err)
					}
					continue
				}
				mu.Lock()
				conns = append(conns, held{c, conn})
				took = took.Round(100 * time.Microsecond)
				tooks = append(tooks, took)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(tooks)
	pct := func(p float64) time.Duration {
		if len(tooks) == 0 {
			return 0
		}
		return tooks[max(int(math.Ceil(p*float64(len(tooks))))-1, 0)]
	}
	fmt.Printf("ready %d errors %d in %s (Request p50 %s p99 %s)\n", len(conns), errs.Load(),
		time.Since(start).Round(time.Millisecond), pct(0.5), pct(0.99))
	<-ctx.Done()
	start = time.Now()
	work := make(chan held)
	var closeErrs atomic.Int64
	for range clients {
		wg.Go(func() {
			for h := range work {
				if _, err := closeConn(ctx, f, h.c, h.conn); err != nil {
					if closeErrs.Add(1) == 1 {
						fmt.Fprintln(os.Stderr, "nsmload: close:", err)
					}
				}
			}
		})
	}
	for _, h := range conns {
		work <- h
	}
	close(work)
	wg.Wait()
	fmt.Printf("closed %d errors %d in %s\n", len(conns), closeErrs.Load(), time.Since(start).Round(time.Millisecond))
	return nil
}
