// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package forwarder

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/sirupsen/logrus"
	"google.golang.org/grpc"

	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/chains/nsmgr"
	regclient "github.com/nsmesh/nsmesh/sdk/registry/chains/client"
)

// Registration says how a forwarder announces itself at its nsmgr.
type Registration struct {
	// Name is the forwarder's endpoint name.
	Name string
	// Labels are what the nsmgr picks forwarders by.
	Labels map[string]string
	// ListenOn is where the nsmgr reaches the forwarder.
	ListenOn *url.URL
	// NSMgr is the local nsmgr.
	NSMgr       *url.URL
	DialTimeout time.Duration
	DialOptions []grpc.DialOption
}

// Register announces the forwarder at its nsmgr as an endpoint of the
// nsmgr.DefaultForwarderServiceName service, with r's labels under that
// service. The client chain refreshes the registration and registers again
// when the registry loses it, until ctx ends. Register blocks until the first
// registration succeeds or ctx ends, and logs one line before and one after.
func Register(ctx context.Context, r Registration, log logrus.FieldLogger) (*regclient.Registration, error) {
	c, err := regclient.NewNSEClient(ctx,
		regclient.WithURL(r.NSMgr),
		regclient.WithDialOptions(r.DialOptions...),
		regclient.WithDialTimeout(r.DialTimeout),
		regclient.WithLogger(log))
	if err != nil {
		return nil, fmt.Errorf("forwarder: %w", err)
	}
	nse := &registry.NetworkServiceEndpoint{
		Name:                r.Name,
		NetworkServiceNames: []string{nsmgr.DefaultForwarderServiceName},
		NetworkServiceLabels: map[string]*registry.NetworkServiceLabels{
			nsmgr.DefaultForwarderServiceName: {Labels: r.Labels},
		},
		Url: r.ListenOn.String(),
	}
	start := time.Now()
	log.WithField("nsmgr", r.NSMgr.String()).Info("registering (retried until the nsmgr answers)")
	reg, err := regclient.RegisterNSE(ctx, c, nse)
	if err != nil {
		return nil, fmt.Errorf("forwarder: register at the nsmgr %s: %w", r.NSMgr, err)
	}
	log.WithFields(logrus.Fields{"nsmgr": r.NSMgr.String(), "labels": r.Labels, "duration": time.Since(start)}).
		Info("registered")
	return reg, nil
}

// Unregister closes reg, so that the nsmgr stops choosing this forwarder, but
// waits at most wait for it: an nsmgr that is gone too must not hold the exit
// up, and the registration then expires by itself. A failure or a timeout is
// logged as a warning; Unregister returns in either case.
func Unregister(reg interface{ Close() error }, wait time.Duration, log logrus.FieldLogger) {
	unregistered := make(chan error, 1)
	go func() { unregistered <- reg.Close() }()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case err := <-unregistered:
		if err != nil {
			log.WithError(err).Warn("unregister")
		}
	case <-timer.C:
		log.Warn("unregister: the nsmgr did not answer in time; the registration will expire")
	}
}
