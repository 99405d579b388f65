// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package clienturlctx carries the URL of the next hop in a request context:
// selection elements (discover, roundrobin, discoverforwarder, clienturl) set
// it and the dial element reads it.
package clienturlctx

import (
	"context"
	"net/url"
)

type key struct{}

// WithClientURL returns ctx carrying u as the next hop's URL.
func WithClientURL(ctx context.Context, u *url.URL) context.Context {
	return context.WithValue(ctx, key{}, u)
}

// ClientURL returns the next hop's URL, or nil.
func ClientURL(ctx context.Context) *url.URL {
	u, _ := ctx.Value(key{}).(*url.URL)
	return u
}
