// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package log gives chain elements the logger of their component. A logger is
// injected at construction; the request context may carry one with fields of
// the connection being handled (conn, segment).
package log

import (
	"context"
	"io"

	"github.com/sirupsen/logrus"
)

type key struct{}

// WithLogger returns ctx carrying l.
func WithLogger(ctx context.Context, l logrus.FieldLogger) context.Context {
	return context.WithValue(ctx, key{}, l)
}

// FromContext returns the logger carried by ctx, or fallback when none is
// carried, or a discarding logger when fallback is nil as well.
func FromContext(ctx context.Context, fallback logrus.FieldLogger) logrus.FieldLogger {
	if l, ok := ctx.Value(key{}).(logrus.FieldLogger); ok {
		return l
	}
	if fallback != nil {
		return fallback
	}
	return Discard()
}

// Discard returns a logger that writes nothing.
func Discard() logrus.FieldLogger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	l.SetLevel(logrus.PanicLevel)
	return l
}
