// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package defaults fills fields of a registration that the registrant leaves
// to the registry (upstream setpayload and setregistrationtime).
//
//   - NewPayloadServer (network services): an empty payload becomes the given
//     one, IP by default.
//   - NewRegistrationTimeServer (endpoints): initial_registration_time is set
//     on the first Register of a name and kept across refreshes, even when a
//     refresh leaves it out or changes it. Behind begin the first time is
//     remembered per name; without begin a value the registrant sends is
//     trusted and an empty one becomes now.
//
// Placement: in registry server chains before the store.
package defaults
