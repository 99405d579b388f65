// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package kernel_test

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/cls"
	kernelmech "github.com/nsmesh/nsmesh/apis/networkservice/mechanisms/kernel"
	"github.com/nsmesh/nsmesh/sdk/core/begin"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/networkservice/mechanisms/kernel"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// generated is a name made for the service "icmp-responder".
var generated = regexp.MustCompile(`^icmp-respo-[0-9A-Za-z]{4}$`)

func TestInterfaceName(t *testing.T) {
	tests := []struct {
		ns         string
		wantPrefix string
	}{
		{ns: "icmp", wantPrefix: "icmp"},
		{ns: "a-very-long-service-name", wantPrefix: "a-very-lon"},
		{ns: "ns@domain/x:y z", wantPrefix: "ns_domain_"},
		{ns: "", wantPrefix: "nsm"},
	}
	for _, tt := range tests {
		t.Run(tt.ns, func(t *testing.T) {
			a, b := kernel.InterfaceName(tt.ns), kernel.InterfaceName(tt.ns)
			if a == b {
				t.Fatalf("two names for %q are equal: %q", tt.ns, a)
			}
			for _, n := range []string{a, b} {
				if len(n) != kernelmech.LinuxIfMaxLength {
					t.Fatalf("%q is %d chars, want %d", n, len(n), kernelmech.LinuxIfMaxLength)
				}
				if !strings.HasPrefix(n, tt.wantPrefix+"-") {
					t.Fatalf("%q does not start with %q", n, tt.wantPrefix+"-")
				}
				if tail := n[len(tt.wantPrefix)+1:]; !regexp.MustCompile(`^[0-9A-Za-z]+$`).MatchString(tail) {
					t.Fatalf("random part %q not from [0-9A-Za-z]", tail)
				}
				if err := kernelmech.ValidateInterfaceName(n); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// sink records the request that reached the end of the chain.
type sink struct {
	reqs []*networkservice.NetworkServiceRequest
}

func (s *sink) Request(_ context.Context, req *networkservice.NetworkServiceRequest, _ ...grpc.CallOption) (*networkservice.Connection, error) {
	s.reqs = append(s.reqs, req.Clone())
	conn := req.GetConnection().Clone()
	// Select the KERNEL preference, as a forwarder that supports it would.
	for _, m := range req.GetMechanismPreferences() {
		if conn.Mechanism == nil && m.GetType() == kernelmech.MECHANISM {
			conn.Mechanism = m.Clone()
		}
	}
	return conn, nil
}

func (s *sink) Close(context.Context, *networkservice.Connection, ...grpc.CallOption) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func TestClient(t *testing.T) {
	tests := []struct {
		name      string
		opts      []kernel.Option
		prefs     []*networkservice.Mechanism
		wantPrefs int
		wantURL   string
		wantName  string // empty: generated
	}{
		{name: "adds a KERNEL preference", wantPrefs: 1, wantURL: kernel.DefaultNetNSURL},
		{name: "fills an existing KERNEL preference", prefs: []*networkservice.Mechanism{{Cls: cls.LOCAL, Type: kernelmech.MECHANISM}}, wantPrefs: 1, wantURL: kernel.DefaultNetNSURL},
		{name: "keeps a requested name", prefs: []*networkservice.Mechanism{{Cls: cls.LOCAL, Type: kernelmech.MECHANISM, Parameters: map[string]string{kernelmech.InterfaceNameKey: "nsm0"}}}, wantPrefs: 1, wantURL: kernel.DefaultNetNSURL, wantName: "nsm0"},
		{name: "other preferences stay, KERNEL appended", prefs: []*networkservice.Mechanism{{Cls: cls.LOCAL, Type: "MEMIF"}}, wantPrefs: 2, wantURL: kernel.DefaultNetNSURL},
		{name: "options", opts: []kernel.Option{kernel.WithInterfaceName("eth9"), kernel.WithNetNSURL("file:///var/run/netns/blue")}, wantPrefs: 1, wantURL: "file:///var/run/netns/blue", wantName: "eth9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := kernel.NewClient(tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			s := &sink{}
			cli := chain.NewClient(begin.NewClient(nil), k, s)
			req := &networkservice.NetworkServiceRequest{
				Connection:           &networkservice.Connection{Id: "c1", NetworkService: "icmp-responder"},
				MechanismPreferences: tt.prefs,
			}
			conn, err := cli.Request(context.Background(), req.Clone())
			if err != nil {
				t.Fatal(err)
			}
			// A refresh: the connection as it came back, with the selected mechanism.
			if _, err := cli.Request(context.Background(), &networkservice.NetworkServiceRequest{Connection: conn}); err != nil {
				t.Fatal(err)
			}
			first, second := s.reqs[0], s.reqs[1]
			if len(first.GetMechanismPreferences()) != tt.wantPrefs {
				t.Fatalf("%d preferences, want %d", len(first.GetMechanismPreferences()), tt.wantPrefs)
			}
			var km *kernelmech.Mechanism
			for _, m := range first.GetMechanismPreferences() {
				if km = kernelmech.ToMechanism(m); km != nil {
					break
				}
			}
			if km.Mechanism().GetCls() != cls.LOCAL || km.GetNetNSURL() != tt.wantURL {
				t.Fatalf("preference %v, want LOCAL with %s", km.Mechanism(), tt.wantURL)
			}
			name := km.GetInterfaceName()
			if tt.wantName != "" && name != tt.wantName {
				t.Fatalf("name %q, want %q", name, tt.wantName)
			}
			if tt.wantName == "" && !generated.MatchString(name) {
				t.Fatalf("name %q is not generated from the service", name)
			}
			sel := kernelmech.ToMechanism(second.GetConnection().GetMechanism())
			if sel == nil || sel.GetNetNSURL() != tt.wantURL || sel.GetInterfaceName() != name {
				t.Fatalf("refresh carried %v, want the same name %q and URL", second.GetConnection().GetMechanism(), name)
			}
		})
	}
}

func TestClientRefreshRestoresURL(t *testing.T) {
	k, err := kernel.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	s := &sink{}
	cli := chain.NewClient(k, s)
	m := kernelmech.New("inode://4/4026531840")
	kernelmech.ToMechanism(m).SetInterfaceName("nsm0")
	_, err = cli.Request(context.Background(), &networkservice.NetworkServiceRequest{Connection: &networkservice.Connection{Id: "c", Mechanism: m}})
	if err != nil {
		t.Fatal(err)
	}
	got := kernelmech.ToMechanism(s.reqs[0].GetConnection().GetMechanism())
	if got.GetNetNSURL() != kernel.DefaultNetNSURL || got.GetInterfaceName() != "nsm0" {
		t.Fatalf("selected mechanism %v", got.Mechanism())
	}
	if len(s.reqs[0].GetMechanismPreferences()) != 0 {
		t.Fatal("a preference was added although a mechanism is selected")
	}
}

func TestBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opt  kernel.Option
	}{
		{name: "name too long", opt: kernel.WithInterfaceName("abcdefghijklmnop")},
		{name: "name with slash", opt: kernel.WithInterfaceName("a/b")},
		{name: "netns URL not a file URL", opt: kernel.WithNetNSURL("/proc/self/ns/net")},
		{name: "netns URL unparsable", opt: kernel.WithNetNSURL("file://%zz")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := kernel.NewClient(tt.opt); err == nil {
				t.Fatal("client accepted it")
			}
			if _, err := kernel.NewServer(tt.opt); err == nil {
				t.Fatal("server accepted it")
			}
		})
	}
}

// ssink is the end of a server chain.
type ssink struct{ mech *networkservice.Mechanism }

func (s *ssink) Request(_ context.Context, req *networkservice.NetworkServiceRequest) (*networkservice.Connection, error) {
	s.mech = req.GetConnection().GetMechanism().Clone()
	return req.GetConnection(), nil
}

func (s *ssink) Close(context.Context, *networkservice.Connection) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func TestServer(t *testing.T) {
	tests := []struct {
		name     string
		opts     []kernel.Option
		mech     *networkservice.Mechanism
		wantURL  string
		wantName string // "gen" for generated
	}{
		{name: "own netns and a generated name", mech: &networkservice.Mechanism{Cls: cls.LOCAL, Type: kernelmech.MECHANISM}, wantURL: kernel.DefaultNetNSURL, wantName: "gen"},
		{name: "requested name kept", mech: &networkservice.Mechanism{Cls: cls.LOCAL, Type: kernelmech.MECHANISM, Parameters: map[string]string{"name": "nsm1", "inodeURL": "file:///proc/1/ns/net"}}, wantURL: kernel.DefaultNetNSURL, wantName: "nsm1"},
		{name: "invalid requested name replaced", mech: &networkservice.Mechanism{Cls: cls.LOCAL, Type: kernelmech.MECHANISM, Parameters: map[string]string{"name": "way-too-long-for-linux"}}, wantURL: kernel.DefaultNetNSURL, wantName: "gen"},
		{name: "configured name wins", opts: []kernel.Option{kernel.WithInterfaceName("nse0")}, mech: &networkservice.Mechanism{Cls: cls.LOCAL, Type: kernelmech.MECHANISM, Parameters: map[string]string{"name": "nsm1"}}, wantURL: kernel.DefaultNetNSURL, wantName: "nse0"},
		{name: "other mechanisms untouched", mech: &networkservice.Mechanism{Cls: cls.LOCAL, Type: "MEMIF"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := kernel.NewServer(tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			s := &ssink{}
			srv := chain.NewServer(begin.NewServer(), k, s)
			if _, err := srv.Request(context.Background(), &networkservice.NetworkServiceRequest{Connection: &networkservice.Connection{Id: "c", NetworkService: "svc", Mechanism: tt.mech}}); err != nil {
				t.Fatal(err)
			}
			km := kernelmech.ToMechanism(s.mech)
			if tt.wantURL == "" {
				if len(s.mech.GetParameters()) != 0 {
					t.Fatalf("non-kernel mechanism changed: %v", s.mech)
				}
				return
			}
			if km.GetNetNSURL() != tt.wantURL {
				t.Fatalf("netns URL %q, want %q", km.GetNetNSURL(), tt.wantURL)
			}
			if tt.wantName == "gen" {
				if !strings.HasPrefix(km.GetInterfaceName(), "svc-") || len(km.GetInterfaceName()) != 15 {
					t.Fatalf("name %q not generated", km.GetInterfaceName())
				}
			} else if km.GetInterfaceName() != tt.wantName {
				t.Fatalf("name %q, want %q", km.GetInterfaceName(), tt.wantName)
			}
		})
	}
}

// A restarted hop must ask for the interface it made before: the name is a
// function of the connection id.
func TestInterfaceNameForIsStablePerConnection(t *testing.T) {
	a1, a2 := kernel.InterfaceNameFor("red-service", "conn-a"), kernel.InterfaceNameFor("red-service", "conn-a")
	b := kernel.InterfaceNameFor("red-service", "conn-b")
	if a1 != a2 {
		t.Fatalf("same connection, names %q and %q", a1, a2)
	}
	if a1 == b {
		t.Fatalf("two connections share the name %q", a1)
	}
	for _, n := range []string{a1, b, kernel.InterfaceNameFor("", "x"), kernel.InterfaceNameFor("a/very:long@service-name", "y")} {
		if err := kernelmech.ValidateInterfaceName(n); err != nil || len(n) != kernelmech.LinuxIfMaxLength {
			t.Fatalf("name %q: %v", n, err)
		}
	}
}
