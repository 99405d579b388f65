// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package sandbox_test

import (
	"crypto/ecdsa"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/sandbox"
	"github.com/nsmesh/nsmesh/sdk/token"
	"github.com/nsmesh/nsmesh/sdk/tools/grpcutils"
)

// A member of the trust domain that learned another client's connection
// (its path, ids and tokens: a client gets the whole path back) sends it to
// the client's nsmgr, or straight to the endpoint, to close or re-request
// it. Every hop binds a connection to the identity that opened it
// (connection_owner) and checks that a caller's token names the caller
// (prev_token_signed) and was made for this hop (tokens_chained): each
// attempt is refused with PermissionDenied and the connection stays up.
func TestAttackConnectionHijackIsDenied(t *testing.T) {
	ctx, d, nse, _ := mtlsDomain(t, 1)
	n := d.Nodes[0]
	victim := mustClient(ctx, t, n, "nsc-1")
	conn, err := victim.Request(ctx, request("red"))
	if err != nil {
		t.Fatal(err)
	}
	victimID := "spiffe://sandbox.nsmesh.test/nsc-1"
	member, err := d.NewIdentity("nsc-evil")
	if err != nil {
		t.Fatal(err)
	}
	svid, err := member.Source().GetX509SVID()
	if err != nil {
		t.Fatal(err)
	}
	// A token signed with the member's own key that claims the victim.
	claimVictim := forged{gen: member.TokenGenerator(), make: func(real string) string {
		c, err := token.Parse(real)
		if err != nil {
			t.Fatal(err)
		}
		c.Subject = victimID
		tok, err := token.Sign(svid.PrivateKey.(*ecdsa.PrivateKey), c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}}
	// The registry holds the nsmgr's URL for local endpoints; the hops
	// themselves listen beside the nsmgr's socket, named after themselves.
	direct := func(hop string) *url.URL {
		return &url.URL{Scheme: "unix", Path: filepath.Join(filepath.Dir(n.NSMgr.UnixURL().Path), hop+".sock")}
	}
	fwd := conn.GetPath().GetPathSegments()[2].GetName()
	var fwdHop *sandbox.Forwarder
	for _, f := range n.Forwarders {
		if f.Name() == fwd {
			fwdHop = f
		}
	}
	if fwdHop == nil {
		t.Fatalf("no forwarder %s on %s", fwd, n.Name)
	}
	requests, closes := nse.Counter.Requests(), nse.Counter.Closes()

	for _, tt := range []struct {
		name string
		hop  int // index of the attacked hop in the path
		to   *url.URL
		held func() int // connections the attacked hop holds
		rpc  credentials.PerRPCCredentials
		deny []string
	}{
		{"the member's own token, to the nsmgr", 1, n.NSMgr.UnixURL(), n.NSMgr.Current.Begin.Len, member.PerRPCCredentials(),
			[]string{"connection_owner", victimID, member.ID()}},
		{"a token claiming the victim, to the nsmgr", 1, n.NSMgr.UnixURL(), n.NSMgr.Current.Begin.Len, claimVictim,
			[]string{"prev_token_signed", `claims sub "` + victimID + `"`}},
		{"the member's own token, straight to the forwarder", 2, direct(fwd), fwdHop.Current.Begin.Len, member.PerRPCCredentials(),
			[]string{"tokens_chained", member.ID()}},
		{"the member's own token, straight to the endpoint", 3, direct("nse"), nse.Current.Begin.Len, member.PerRPCCredentials(),
			[]string{"tokens_chained", member.ID()}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cc, err := grpc.NewClient(grpcutils.Target(tt.to), grpc.WithTransportCredentials(member.ClientCredentials()), grpc.WithPerRPCCredentials(tt.rpc))
			if err != nil {
				t.Fatal(err)
			}
			defer cc.Close()
			c := networkservice.NewNetworkServiceClient(cc)
			// Sent as the attacked hop's caller would: positioned at the
			// caller's segment.
			sent := conn.Clone()
			sent.Path.Index = uint32(tt.hop - 1)
			sent.Id = sent.Path.PathSegments[tt.hop-1].Id
			denied := func(op string, err error) {
				t.Helper()
				st := status.Convert(err)
				if st.Code() != codes.PermissionDenied {
					t.Fatalf("%s: %v, want PermissionDenied", op, err)
				}
				for _, p := range tt.deny {
					if !strings.Contains(st.Message(), p) {
						t.Fatalf("%s: %q does not name %q", op, st.Message(), p)
					}
				}
				if nse.Counter.Requests() != requests || nse.Counter.Closes() != closes {
					t.Fatalf("after the %s the endpoint saw %d requests, %d closes; before the attack %d, %d",
						op, nse.Counter.Requests(), nse.Counter.Closes(), requests, closes)
				}
				t.Logf("%s denied: %s", op, st.Message())
			}

			held := tt.held()
			_, err = c.Request(shortCtx(ctx, t), &networkservice.NetworkServiceRequest{Connection: sent.Clone()})
			denied("request", err)
			if l := tt.held(); l != held {
				t.Fatalf("the attacked hop holds %d connections, %d before the attack", l, held)
			}
			_, err = c.Close(shortCtx(ctx, t), sent.Clone())
			denied("close", err)
			if l := tt.held(); l != held {
				t.Fatalf("after the refused Close the attacked hop holds %d connections, %d before", l, held)
			}

			// The victim still refreshes through every hop.
			if _, err := victim.Request(ctx, &networkservice.NetworkServiceRequest{Connection: conn.Clone()}); err != nil {
				t.Fatalf("the victim's refresh after the attack: %v", err)
			}
			if requests++; nse.Counter.Requests() != requests {
				t.Fatalf("the victim's refresh did not reach the endpoint")
			}
		})
	}

	// The victim's connection is as it was: it refreshes and closes.
	refreshed, err := victim.Request(ctx, &networkservice.NetworkServiceRequest{Connection: conn.Clone()})
	if err != nil {
		t.Fatalf("the victim's refresh: %v", err)
	}
	if refreshed.GetId() != conn.GetId() || nse.Counter.Requests() != requests+1 {
		t.Fatalf("refresh gave connection %s (was %s), endpoint requests %d", refreshed.GetId(), conn.GetId(), nse.Counter.Requests())
	}
	if _, err := victim.Close(timeoutCtx(ctx, t, 10*time.Second), refreshed); err != nil {
		t.Fatal(err)
	}
	if nse.Counter.Closes() != closes+1 {
		t.Fatalf("endpoint closes %d after the victim's close, want %d", nse.Counter.Closes(), closes+1)
	}
}
