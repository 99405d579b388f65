// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package fakes holds test doubles that behave like the real parts without
// their side effects: a data plane that only records, an in-memory registry,
// SPIFFE identities from a throw-away CA, a real mTLS hop. Tests of several
// packages share them; production code never imports this package.
package fakes
