// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package authorize_test

import (
	"context"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/networkservice/authorize"
)

func TestPolicies(t *testing.T) {
	h := newHops(t)
	now := time.Now()
	exp := now.Add(time.Hour)
	past := now.Add(-time.Minute)

	// edit returns the good path at index with change applied.
	edit := func(index uint32, change func(s []*networkservice.PathSegment)) []*networkservice.PathSegment {
		c := h.path(t, index, exp)
		if change != nil {
			change(c.Path.PathSegments)
		}
		return c.Path.PathSegments
	}
	cert := func(n string) *x509.Certificate { return h.svid[n].Cert }

	tests := []struct {
		name    string
		policy  authorize.Policy
		segs    []*networkservice.PathSegment
		index   int
		peer    *x509.Certificate
		closing bool
		wantErr string // substring; "" allows
	}{
		{name: "valid: good path", policy: authorize.TokensValid(), segs: edit(0, nil)},
		{name: "valid: no tokens", policy: authorize.TokensValid(), segs: edit(0, func(s []*networkservice.PathSegment) {
			for _, x := range s {
				x.Token = ""
			}
		})},
		{name: "valid: garbage token", policy: authorize.TokensValid(), segs: edit(0, func(s []*networkservice.PathSegment) { s[2].Token = "garbage" }),
			wantErr: "token of segment 2 (fwd) is not a JWT"},
		{name: "valid: no segments", policy: authorize.TokensValid()},

		{name: "unexpired: good path", policy: authorize.TokensUnexpired(), segs: edit(0, nil)},
		{name: "unexpired: expired token", policy: authorize.TokensUnexpired(),
			segs:    edit(0, func(s []*networkservice.PathSegment) { s[1].Token = h.tok(t, "nsmgr", "fwd", past) }),
			wantErr: "token of segment 1 (nsmgr) expired at " + past.UTC().Format(time.RFC3339)},
		{name: "unexpired: expired token, closing", policy: authorize.TokensUnexpired(), closing: true,
			segs: edit(0, func(s []*networkservice.PathSegment) { s[1].Token = h.tok(t, "nsmgr", "fwd", past) })},
		{name: "unexpired: no exp claim", policy: authorize.TokensUnexpired(),
			segs:    edit(0, func(s []*networkservice.PathSegment) { s[3].Token = h.tok(t, "nse", "fwd", time.Time{}) }),
			wantErr: "token of segment 3 (nse) has no expiry"},
		{name: "unexpired: segment without token is skipped", policy: authorize.TokensUnexpired(),
			segs: edit(0, func(s []*networkservice.PathSegment) { s[3].Token = "" })},
		{name: "unexpired: unreadable token", policy: authorize.TokensUnexpired(),
			segs:    edit(0, func(s []*networkservice.PathSegment) { s[0].Token = "x" }),
			wantErr: "token of segment 0 (nsc) cannot be read"},

		{name: "chained: good path", policy: authorize.TokensChained(), segs: edit(0, nil)},
		{name: "chained: broken link", policy: authorize.TokensChained(),
			segs:    edit(0, func(s []*networkservice.PathSegment) { s[1].Token = h.tok(t, "nsmgr", "outsider", exp) }),
			wantErr: `token of segment 1 (nsmgr) is for [spiffe://test.com/outsider], but segment 2 (fwd) is signed by "spiffe://test.com/fwd"`},
		{name: "chained: token without audience links to anything", policy: authorize.TokensChained(),
			segs: edit(0, func(s []*networkservice.PathSegment) { s[1].Token = h.tok(t, "nsmgr", "", exp) })},
		{name: "chained: missing next token", policy: authorize.TokensChained(),
			segs: edit(0, func(s []*networkservice.PathSegment) { s[2].Token = "" })},

		{name: "prev signed: no certificate (plaintext) cannot apply", policy: authorize.PrevTokenSigned(), segs: edit(2, nil), index: 2},
		{name: "prev signed: caller signed it", policy: authorize.PrevTokenSigned(), segs: edit(2, nil), index: 2, peer: cert("nsmgr")},
		{name: "prev signed: another caller", policy: authorize.PrevTokenSigned(), segs: edit(2, nil), index: 2, peer: cert("outsider"),
			wantErr: "token of segment 1 (nsmgr) is not signed by the caller's certificate (spiffe://test.com/outsider): token: bad signature"},
		{name: "prev signed: caller's own key, another identity's sub", policy: authorize.PrevTokenSigned(), index: 2, peer: cert("outsider"),
			segs:    edit(2, func(s []*networkservice.PathSegment) { s[1].Token = h.signAs(t, "outsider", "nsmgr", "fwd", exp) }),
			wantErr: `token of segment 1 (nsmgr) is signed by the caller's certificate (spiffe://test.com/outsider) but claims sub "spiffe://test.com/nsmgr"`},
		{name: "prev signed: no previous segment", policy: authorize.PrevTokenSigned(), segs: edit(0, nil), index: 0, peer: cert("nsc"),
			wantErr: "no segment -1"},
		{name: "prev signed: previous segment without token", policy: authorize.PrevTokenSigned(), index: 2, peer: cert("nsmgr"),
			segs:    edit(2, func(s []*networkservice.PathSegment) { s[1].Token = "" }),
			wantErr: "segment 1 (nsmgr) has no token of the caller"},

		{name: "next signed: server signed it", policy: authorize.NextTokenSigned(), segs: edit(0, nil), index: 0, peer: cert("nsmgr")},
		{name: "next signed: no certificate", policy: authorize.NextTokenSigned(), segs: edit(0, nil), index: 0},
		{name: "next signed: other server", policy: authorize.NextTokenSigned(), segs: edit(0, nil), index: 0, peer: cert("fwd"),
			wantErr: "token of segment 1 (nsmgr) is not signed by the server's certificate"},
		{name: "next signed: server's own key, another identity's sub", policy: authorize.NextTokenSigned(), index: 0, peer: cert("outsider"),
			segs:    edit(0, func(s []*networkservice.PathSegment) { s[1].Token = h.signAs(t, "outsider", "nsmgr", "fwd", exp) }),
			wantErr: `is signed by the server's certificate (spiffe://test.com/outsider) but claims sub "spiffe://test.com/nsmgr"`},
		{name: "next signed: path ends at me", policy: authorize.NextTokenSigned(), segs: edit(3, nil), index: 3, peer: cert("nse"),
			wantErr: "no segment 4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &authorize.Input{Segments: tt.segs, Index: tt.index, PeerCert: tt.peer, Now: now, Closing: tt.closing}
			err := tt.policy.Check(context.Background(), in)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("denied: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestInputClaims(t *testing.T) {
	h := newHops(t)
	c := h.path(t, 0, time.Now().Add(time.Hour))
	c.Path.PathSegments[1].Token = ""
	in := &authorize.Input{Segments: c.Path.PathSegments}
	got, err := in.Claims(0)
	if err != nil || got.Subject != h.svid["nsc"].ID {
		t.Fatalf("Claims(0) = %+v, %v", got, err)
	}
	// Cached: changing the token after the first parse does not matter.
	c.Path.PathSegments[0].Token = "garbage"
	if again, err := in.Claims(0); err != nil || again.Subject != got.Subject {
		t.Errorf("second Claims(0) = %+v, %v", again, err)
	}
	if _, err := in.Claims(1); !errors.Is(err, authorize.ErrNoToken) {
		t.Errorf("Claims(1) err = %v, want ErrNoToken", err)
	}
	for _, i := range []int{-1, 4} {
		if _, err := in.Claims(i); err == nil {
			t.Errorf("Claims(%d) has no error", i)
		}
	}
}
