// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package grpcutils turns NSM URLs (unix:///path, tcp://host:port) into gRPC
// dial targets and listeners, the way every nsmesh binary does.
package grpcutils
