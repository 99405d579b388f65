// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package kernel_test

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/dataplane/kernel"
	"github.com/nsmesh/nsmesh/sdk/internal/netnstest"
)

// configureBoth applies cc to the client (src) and endpoint (dst) ends.
func configureBoth(t *testing.T, cns *kernel.NetNS, cif string, ens *kernel.NetNS, eif string, cc *networkservice.ConnectionContext) {
	t.Helper()
	ctx, log := netnstest.Context(t), netnstest.Logger(t)
	if err := kernel.Configure(ctx, log, cns, cif, kernel.SideSrc, cc); err != nil {
		t.Fatalf("configure client: %v", err)
	}
	if err := kernel.Configure(ctx, log, ens, eif, kernel.SideDst, cc); err != nil {
		t.Fatalf("configure endpoint: %v", err)
	}
}

func TestLocalVeth(t *testing.T) {
	netnstest.RequireRoot(t)
	ctx, log := netnstest.Context(t), netnstest.Logger(t)
	cns, ens := netnstest.New(t, "nsc").NetNS, netnstest.New(t, "nse").NetNS
	v := kernel.Veth{
		Mark: kernel.Mark{Owner: "fwd-test", ConnID: "conn-local-1"},
		A:    kernel.Endpoint{NS: cns, Name: "nsm-1"},
		// The same name on both sides: each end is born in its own namespace.
		B:   kernel.Endpoint{NS: ens, Name: "nsm-1"},
		MTU: 1446,
	}
	res, err := v.Ensure(ctx, log)
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	if !res.Created || res.A.Name != "nsm-1" || res.B.Name != "nsm-1" || res.A.MTU != 1446 || res.B.MTU != 1446 {
		t.Fatalf("Ensure = %+v, want a created pair with mtu 1446", res)
	}
	for _, ns := range []*kernel.NetNS{cns, ens} {
		owned, err := kernel.List(ns, "fwd-test")
		if err != nil {
			t.Fatal(err)
		}
		want := []kernel.Owned{{Name: "nsm-1", Kind: "veth", Mark: v.Mark}}
		for i := range owned {
			owned[i].Index = 0
		}
		if !reflect.DeepEqual(owned, want) {
			t.Errorf("List(%s) = %+v, want %+v", ns, owned, want)
		}
	}

	cc := p2pContext()
	configureBoth(t, cns, "nsm-1", ens, "nsm-1", cc)
	if got := addrs(t, cns, "nsm-1"); !reflect.DeepEqual(got, []string{"172.16.0.1/32"}) {
		t.Errorf("client addresses = %v", got)
	}
	if got := routes(t, cns, "nsm-1"); !reflect.DeepEqual(got, []string{"172.16.0.0/32"}) {
		t.Errorf("client routes = %v", got)
	}
	if err := netnstest.Ping(cns, mustAddr("172.16.0.1/32"), mustAddr("172.16.0.0/32"), 3); err != nil {
		t.Errorf("client -> endpoint: %v", err)
	}
	if err := netnstest.Ping(ens, mustAddr("172.16.0.0/32"), mustAddr("172.16.0.1/32"), 3); err != nil {
		t.Errorf("endpoint -> client: %v", err)
	}
	if err := netnstest.TCPEcho(cns, mustAddr("172.16.0.1/32"), ens, mustAddr("172.16.0.0/32"), randomData(4<<20)); err != nil {
		t.Errorf("tcp client -> endpoint: %v", err)
	}

	// Refresh: the same request adopts the pair and changes nothing.
	res2, err := v.Ensure(ctx, log)
	if err != nil {
		t.Fatalf("second Ensure: %v", err)
	}
	if res2.Created || res2.A.Index != res.A.Index || res2.B.Index != res.B.Index {
		t.Errorf("second Ensure = %+v, want the adopted pair %+v", res2, res)
	}
	configureBoth(t, cns, "nsm-1", ens, "nsm-1", cc)
	if got := addrs(t, cns, "nsm-1"); !reflect.DeepEqual(got, []string{"172.16.0.1/32"}) {
		t.Errorf("client addresses after refresh = %v", got)
	}

	// A new context (new addresses, an IPv6 pair, a network route, a
	// neighbour) replaces the old state.
	cc2 := &networkservice.ConnectionContext{
		MTU: 1400,
		IpContext: &networkservice.IPContext{
			SrcIpAddrs: []string{"172.16.1.1/32", "fd00:1::1/128"},
			DstIpAddrs: []string{"172.16.1.0/32", "fd00:1::/128"},
			SrcRoutes:  []*networkservice.Route{{Prefix: "172.16.1.0/32"}, {Prefix: "10.99.0.0/16"}, {Prefix: "fd00:1::/128"}},
			DstRoutes:  []*networkservice.Route{{Prefix: "172.16.1.1/32"}, {Prefix: "fd00:1::1/128"}},
			IpNeighbors: []*networkservice.IpNeighbor{
				{Ip: "172.16.1.77", HardwareAddress: "02:00:00:00:00:77"},
			},
		},
	}
	configureBoth(t, cns, "nsm-1", ens, "nsm-1", cc2)
	if got, want := addrs(t, cns, "nsm-1"), []string{"172.16.1.1/32", "fd00:1::1/128"}; !reflect.DeepEqual(got, want) {
		t.Errorf("client addresses after change = %v, want %v", got, want)
	}
	if got, want := routes(t, cns, "nsm-1"), []string{"10.99.0.0/16 via 172.16.1.0", "172.16.1.0/32", "fd00:1::/128"}; !reflect.DeepEqual(got, want) {
		t.Errorf("client routes after change = %v, want %v", got, want)
	}
	if got := neighbours(t, cns, "nsm-1"); !reflect.DeepEqual(got, []string{"172.16.1.77 02:00:00:00:00:77"}) {
		t.Errorf("client permanent neighbours = %v", got)
	}
	for _, ns := range []*kernel.NetNS{cns, ens} {
		if l, err := netnstest.Handle(t, ns).LinkByName("nsm-1"); err != nil || l.Attrs().MTU != 1400 {
			t.Errorf("mtu in %s: %v %v, want 1400", ns, l, err)
		}
	}
	if err := netnstest.Ping(cns, mustAddr("172.16.1.1/32"), mustAddr("172.16.1.0/32"), 3); err != nil {
		t.Errorf("client -> endpoint after change: %v", err)
	}
	if err := netnstest.Ping(ens, mustAddr("fd00:1::/128"), mustAddr("fd00:1::1/128"), 3); err != nil {
		t.Errorf("endpoint -> client over IPv6: %v", err)
	}
	if err := netnstest.TCPEcho(ens, mustAddr("fd00:1::/128"), cns, mustAddr("fd00:1::1/128"), randomData(1<<20)); err != nil {
		t.Errorf("tcp over IPv6: %v", err)
	}
	if err := netnstest.Ping(cns, mustAddr("172.16.0.1/32"), mustAddr("172.16.0.0/32"), 3); err == nil {
		t.Errorf("the old address still answers")
	}

	// Dropping the neighbour and the network route removes them.
	cc3 := &networkservice.ConnectionContext{IpContext: cc2.IpContext}
	cc3.IpContext.IpNeighbors = nil
	cc3.IpContext.SrcRoutes = cc3.IpContext.SrcRoutes[:1]
	configureBoth(t, cns, "nsm-1", ens, "nsm-1", cc3)
	if got, want := routes(t, cns, "nsm-1"), []string{"172.16.1.0/32", "fd00:1::/128"}; !reflect.DeepEqual(got, want) {
		t.Errorf("client routes after removal = %v, want %v", got, want)
	}
	if got := neighbours(t, cns, "nsm-1"); len(got) != 0 {
		t.Errorf("client permanent neighbours after removal = %v", got)
	}

	if err := v.Delete(ctx, log); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := v.Delete(ctx, log); err != nil {
		t.Errorf("second Delete: %v", err)
	}
	for _, ns := range []*kernel.NetNS{cns, ens} {
		if names := linkNames(t, ns); len(names) != 0 {
			t.Errorf("links left in %s: %v", ns, names)
		}
	}
}

// neighbours lists "ip mac" of permanent neighbour entries on name.
func neighbours(t *testing.T, ns *kernel.NetNS, name string) []string {
	t.Helper()
	h := netnstest.Handle(t, ns)
	l, err := h.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	list, err := h.NeighList(l.Attrs().Index, netlink.FAMILY_ALL)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range list {
		if n.State&netlink.NUD_PERMANENT != 0 {
			out = append(out, n.IP.String()+" "+n.HardwareAddr.String())
		}
	}
	return out
}

func TestVethForeignNamesAreNotTouched(t *testing.T) {
	netnstest.RequireRoot(t)
	ctx, log := netnstest.Context(t), netnstest.Logger(t)
	cns, ens := netnstest.New(t, "fc").NetNS, netnstest.New(t, "fe").NetNS
	// Somebody else's interface holds the endpoint-side name.
	foreign := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "taken", Alias: "not-nsm"}, PeerName: "taken-peer"}
	if err := netnstest.Handle(t, ens).LinkAdd(foreign); err != nil {
		t.Fatal(err)
	}
	v := kernel.Veth{
		Mark: kernel.Mark{Owner: "fwd-test", ConnID: "conn-x"},
		A:    kernel.Endpoint{NS: cns, Name: "nsm-x"},
		B:    kernel.Endpoint{NS: ens, Name: "taken"},
	}
	if _, err := v.Ensure(ctx, log); err == nil || !strings.Contains(err.Error(), "not owned") {
		t.Errorf("Ensure over a foreign name = %v, want a not-owned error", err)
	}
	if err := v.Delete(ctx, log); err != nil {
		t.Errorf("Delete: %v", err)
	}
	if got := linkNames(t, ens); !reflect.DeepEqual(got, []string{"taken", "taken-peer"}) {
		t.Errorf("links in endpoint ns = %v, want the foreign pair intact", got)
	}
	if got := linkNames(t, cns); len(got) != 0 {
		t.Errorf("links in client ns = %v, want none", got)
	}
	// Another connection of the same owner holding the name is not ours
	// either.
	other := kernel.Veth{Mark: kernel.Mark{Owner: "fwd-test", ConnID: "conn-y"},
		A: kernel.Endpoint{NS: cns, Name: "nsm-y"}, B: kernel.Endpoint{NS: ens, Name: "nsm-y"}}
	if _, err := other.Ensure(ctx, log); err != nil {
		t.Fatal(err)
	}
	v.B.Name = "nsm-y"
	if _, err := v.Ensure(ctx, log); err == nil {
		t.Errorf("Ensure over another connection's interface succeeded")
	}
	if got := linkNames(t, ens); !reflect.DeepEqual(got, []string{"nsm-y", "taken", "taken-peer"}) {
		t.Errorf("links in endpoint ns = %v", got)
	}
}

func TestVethReplacesItsOwnStalePair(t *testing.T) {
	netnstest.RequireRoot(t)
	ctx, log := netnstest.Context(t), netnstest.Logger(t)
	cns, ens := netnstest.New(t, "sc").NetNS, netnstest.New(t, "se").NetNS
	m := kernel.Mark{Owner: "fwd-test", ConnID: "conn-s"}
	old := kernel.Veth{Mark: m, A: kernel.Endpoint{NS: cns, Name: "nsm-s"}, B: kernel.Endpoint{NS: ens, Name: "nsm-old"}}
	if _, err := old.Ensure(ctx, log); err != nil {
		t.Fatal(err)
	}
	// The endpoint side is now wanted under a new name.
	v := old
	v.B.Name = "nsm-new"
	res, err := v.Ensure(ctx, log)
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	if !res.Created {
		t.Errorf("Ensure adopted a pair that does not match")
	}
	if got := linkNames(t, ens); !reflect.DeepEqual(got, []string{"nsm-new"}) {
		t.Errorf("links in endpoint ns = %v, want [nsm-new]", got)
	}
	if got := linkNames(t, cns); !reflect.DeepEqual(got, []string{"nsm-s"}) {
		t.Errorf("links in client ns = %v, want [nsm-s]", got)
	}
}

func TestVethValidation(t *testing.T) {
	netnstest.RequireRoot(t)
	ctx := netnstest.Context(t)
	ns := netnstest.New(t, "val").NetNS
	m := kernel.Mark{Owner: "o", ConnID: "c"}
	for name, v := range map[string]kernel.Veth{
		"no mark":        {A: kernel.Endpoint{NS: ns, Name: "a"}, B: kernel.Endpoint{NS: ns, Name: "b"}},
		"long name":      {Mark: m, A: kernel.Endpoint{NS: ns, Name: "a-very-long-name"}, B: kernel.Endpoint{NS: ns, Name: "b"}},
		"no namespace":   {Mark: m, A: kernel.Endpoint{Name: "a"}, B: kernel.Endpoint{NS: ns, Name: "b"}},
		"same interface": {Mark: m, A: kernel.Endpoint{NS: ns, Name: "a"}, B: kernel.Endpoint{NS: ns, Name: "a"}},
		"negative mtu":   {Mark: m, A: kernel.Endpoint{NS: ns, Name: "a"}, B: kernel.Endpoint{NS: ns, Name: "b"}, MTU: -1},
	} {
		if _, err := v.Ensure(ctx, nil); err == nil {
			t.Errorf("%s: Ensure succeeded", name)
		}
	}
	if got := linkNames(t, ns); len(got) != 0 {
		t.Errorf("links created by invalid requests: %v", got)
	}
}

// TestConfigureEnablesDisabledIPv6 covers namespaces whose interfaces start
// with IPv6 disabled: an IPv6 address in the context turns it on.
func TestConfigureEnablesDisabledIPv6(t *testing.T) {
	netnstest.RequireRoot(t)
	ctx, log := netnstest.Context(t), netnstest.Logger(t)
	cns, ens := netnstest.New(t, "6c").NetNS, netnstest.New(t, "6e").NetNS
	if err := cns.Do(func() error {
		return os.WriteFile("/proc/sys/net/ipv6/conf/default/disable_ipv6", []byte("1"), 0)
	}); err != nil {
		t.Fatal(err)
	}
	v := kernel.Veth{Mark: kernel.Mark{Owner: "fwd-test", ConnID: "v6"},
		A: kernel.Endpoint{NS: cns, Name: "nsm-6"}, B: kernel.Endpoint{NS: ens, Name: "nsm-6"}}
	if _, err := v.Ensure(ctx, log); err != nil {
		t.Fatal(err)
	}
	var disabled []byte
	if err := cns.Do(func() (err error) {
		disabled, err = os.ReadFile("/proc/sys/net/ipv6/conf/nsm-6/disable_ipv6")
		return err
	}); err != nil || strings.TrimSpace(string(disabled)) != "1" {
		t.Fatalf("precondition: disable_ipv6 = %q, %v; want 1", disabled, err)
	}
	cc := &networkservice.ConnectionContext{IpContext: &networkservice.IPContext{
		SrcIpAddrs: []string{"fd00:6::1/128"}, DstIpAddrs: []string{"fd00:6::/128"},
	}}
	configureBoth(t, cns, "nsm-6", ens, "nsm-6", cc)
	if err := cns.Do(func() (err error) {
		disabled, err = os.ReadFile("/proc/sys/net/ipv6/conf/nsm-6/disable_ipv6")
		return err
	}); err != nil || strings.TrimSpace(string(disabled)) != "0" {
		t.Errorf("after Configure: disable_ipv6 = %q, %v; want 0", disabled, err)
	}
	if err := netnstest.Ping(cns, mustAddr("fd00:6::1/128"), mustAddr("fd00:6::/128"), 3); err != nil {
		t.Errorf("IPv6 after enabling: %v", err)
	}
}
