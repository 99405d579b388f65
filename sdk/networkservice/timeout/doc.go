// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package timeout closes a server's connection when the caller stops
// refreshing it (upstream NSM §4.4).
//
// Guarantees:
//   - After each successful Request the element arms one timer per
//     connection, due at prev.expires − T, where prev is the caller's path
//     segment and T is the time the Request had left before its deadline
//     when it arrived (a margin, WithMargin, when it had no deadline). The
//     earlier firing leaves the Close the time a Request would have had.
//   - When the timer fires, the connection is closed through the chain after
//     begin (begin.FromContext(ctx).Close()), serialised with its other calls.
//   - Every Request re-arms the timer from the new expiry; a failed refresh
//     keeps the armed one. Close disarms it, and a timer that fires while a
//     Request or Close holds the connection is abandoned if that call
//     re-armed or disarmed it. A failed initial Request arms nothing.
//   - A Request whose previous segment has no expiry is refused with
//     codes.InvalidArgument: its connection would never time out. The first
//     hop of a path (index 0) has no caller segment and gets no timer.
//   - When the chain's context ends, pending timers do nothing.
//
// Placement: in server chains after begin and updatetoken (which puts the
// caller's expiry into the previous segment), upstream: after authorize and
// metadata.
package timeout
