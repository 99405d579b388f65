// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package networkservice_test

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/nsmesh/nsmesh/apis/internal/wiretest"
	"github.com/nsmesh/nsmesh/apis/networkservice"
)

// The tables below transcribe nsm-reference §1.2-§1.4 (upstream api v1.15).
// They are deliberately not derived from the .proto files.

var f = wiretest.F

var schemas = map[protoreflect.FullName][]wiretest.Field{
	"connectioncontext.IpNeighbor": {f(1, "ip", "string"), f(2, "hardware_address", "string")},
	"connectioncontext.Route":      {f(1, "prefix", "string"), f(2, "nextHop", "string")},
	"connectioncontext.IpFamily":   {f(1, "family", "connectioncontext.IpFamily.Family")},
	"connectioncontext.ExtraPrefixRequest": {
		f(1, "addr_family", "connectioncontext.IpFamily"), f(2, "prefix_len", "uint32"),
		f(3, "required_number", "uint32"), f(4, "requested_number", "uint32"),
	},
	"connectioncontext.PolicyRoute": {
		f(1, "from", "string"), f(2, "proto", "string"), f(3, "dst_port", "string"),
		f(4, "src_port", "string"), f(5, "routes", "repeated connectioncontext.Route"),
	},
	"connectioncontext.IPContext": {
		f(1, "src_ip_addrs", "repeated string"), f(2, "dst_ip_addrs", "repeated string"),
		f(3, "src_ip_required", "bool"), f(4, "dst_ip_required", "bool"),
		f(5, "src_routes", "repeated connectioncontext.Route"), f(6, "dst_routes", "repeated connectioncontext.Route"),
		f(7, "excluded_prefixes", "repeated string"), f(8, "ip_neighbors", "repeated connectioncontext.IpNeighbor"),
		f(9, "extra_prefix_request", "repeated connectioncontext.ExtraPrefixRequest"),
		f(10, "extra_prefixes", "repeated string"), f(11, "policies", "repeated connectioncontext.PolicyRoute"),
	},
	"connectioncontext.DNSConfig":       {f(1, "dns_server_ips", "repeated string"), f(2, "search_domains", "repeated string")},
	"connectioncontext.DNSContext":      {f(1, "configs", "repeated connectioncontext.DNSConfig")},
	"connectioncontext.EthernetContext": {f(1, "src_mac", "string"), f(2, "dst_mac", "string"), f(3, "vlan_tag", "int32")},
	"connectioncontext.ConnectionContext": {
		f(1, "ip_context", "connectioncontext.IPContext"), f(2, "dns_context", "connectioncontext.DNSContext"),
		f(3, "ethernet_context", "connectioncontext.EthernetContext"), f(4, "extra_context", "map<string,string>"),
		f(5, "MTU", "uint32"),
	},
	"connection.Mechanism": {f(1, "cls", "string"), f(2, "type", "string"), f(3, "parameters", "map<string,string>")},
	"connection.PathSegment": {
		f(1, "name", "string"), f(2, "id", "string"), f(3, "token", "string"),
		f(4, "expires", "google.protobuf.Timestamp"), f(5, "metrics", "map<string,string>"),
	},
	"connection.Path": {f(1, "index", "uint32"), f(2, "path_segments", "repeated connection.PathSegment")},
	"connection.Connection": {
		f(1, "id", "string"), f(2, "network_service", "string"), f(3, "mechanism", "connection.Mechanism"),
		f(4, "context", "connectioncontext.ConnectionContext"), f(5, "labels", "map<string,string>"),
		f(6, "path", "connection.Path"), f(7, "network_service_endpoint_name", "string"),
		f(8, "payload", "string"), f(9, "state", "connection.State"),
	},
	"connection.ConnectionEvent": {
		f(1, "type", "connection.ConnectionEventType"), f(2, "connections", "map<string,connection.Connection>"),
	},
	"connection.MonitorScopeSelector": {
		f(1, "path_segments", "repeated connection.PathSegment"), f(2, "network_services", "repeated string"),
	},
	"networkservice.NetworkServiceRequest": {
		f(1, "connection", "connection.Connection"), f(2, "mechanism_preferences", "repeated connection.Mechanism"),
	},
}

func TestSchema(t *testing.T) {
	for name, fields := range schemas {
		t.Run(string(name), func(t *testing.T) { wiretest.CheckSchema(t, name, fields) })
	}
}

func TestEnums(t *testing.T) {
	wiretest.CheckEnum(t, "connectioncontext.IpFamily.Family", map[string]protoreflect.EnumNumber{"IPV4": 0, "IPV6": 1})
	wiretest.CheckEnum(t, "connection.State", map[string]protoreflect.EnumNumber{
		"UP": 0, "DOWN": 1, "REFRESH_REQUESTED": 2, "RESELECT_REQUESTED": 3,
	})
	wiretest.CheckEnum(t, "connection.ConnectionEventType", map[string]protoreflect.EnumNumber{
		"INITIAL_STATE_TRANSFER": 0, "UPDATE": 1, "DELETE": 2,
	})
}

func TestServices(t *testing.T) {
	wiretest.CheckService(t, "networkservice.NetworkService", []wiretest.Method{
		{FullMethod: "/networkservice.NetworkService/Request", Input: "networkservice.NetworkServiceRequest", Output: "connection.Connection"},
		{FullMethod: "/networkservice.NetworkService/Close", Input: "connection.Connection", Output: "google.protobuf.Empty"},
	})
	wiretest.CheckService(t, "connection.MonitorConnection", []wiretest.Method{
		{FullMethod: "/connection.MonitorConnection/MonitorConnections", Input: "connection.MonitorScopeSelector", Output: "connection.ConnectionEvent", ServerStream: true},
	})
	// The generated gRPC code must use the same paths.
	for got, want := range map[string]string{
		networkservice.NetworkService_Request_FullMethodName:               "/networkservice.NetworkService/Request",
		networkservice.NetworkService_Close_FullMethodName:                 "/networkservice.NetworkService/Close",
		networkservice.MonitorConnection_MonitorConnections_FullMethodName: "/connection.MonitorConnection/MonitorConnections",
		networkservice.NetworkService_ServiceDesc.ServiceName:              "networkservice.NetworkService",
		networkservice.MonitorConnection_ServiceDesc.ServiceName:           "connection.MonitorConnection",
		networkservice.NetworkService_ServiceDesc.Metadata.(string):        "networkservice.proto",
		networkservice.MonitorConnection_ServiceDesc.Metadata.(string):     "connection.proto",
	} {
		if got != want {
			t.Errorf("generated gRPC name %q, want %q", got, want)
		}
	}
}

func TestGoTypesAndFiles(t *testing.T) {
	for _, tc := range []struct {
		msg  proto.Message
		name protoreflect.FullName
		file string
	}{
		{&networkservice.IpNeighbor{}, "connectioncontext.IpNeighbor", "connectioncontext.proto"},
		{&networkservice.ConnectionContext{}, "connectioncontext.ConnectionContext", "connectioncontext.proto"},
		{&networkservice.IPContext{}, "connectioncontext.IPContext", "connectioncontext.proto"},
		{&networkservice.Connection{}, "connection.Connection", "connection.proto"},
		{&networkservice.Mechanism{}, "connection.Mechanism", "connection.proto"},
		{&networkservice.MonitorScopeSelector{}, "connection.MonitorScopeSelector", "connection.proto"},
		{&networkservice.NetworkServiceRequest{}, "networkservice.NetworkServiceRequest", "networkservice.proto"},
	} {
		d := tc.msg.ProtoReflect().Descriptor()
		if d.FullName() != tc.name || d.ParentFile().Path() != tc.file {
			t.Errorf("%T is %s in %q, want %s in %q", tc.msg, d.FullName(), d.ParentFile().Path(), tc.name, tc.file)
		}
	}
}

// Hand-built sub-messages, reused by the messages that embed them.
var (
	neighbor     = &networkservice.IpNeighbor{Ip: "10.0.0.2", HardwareAddress: "02:00:00:00:00:02"}
	neighborWire = wiretest.B{}.String(1, "10.0.0.2").String(2, "02:00:00:00:00:02")

	route1     = &networkservice.Route{Prefix: "10.1.0.0/16", NextHop: "10.0.0.1"}
	route1Wire = wiretest.B{}.String(1, "10.1.0.0/16").String(2, "10.0.0.1")
	route2     = &networkservice.Route{Prefix: "fd00::/64", NextHop: "fd00::1"}
	route2Wire = wiretest.B{}.String(1, "fd00::/64").String(2, "fd00::1")

	family     = &networkservice.IpFamily{Family: networkservice.IpFamily_IPV6}
	familyWire = wiretest.B{}.Varint(1, 1)

	extraReq = &networkservice.ExtraPrefixRequest{
		AddrFamily: family, PrefixLen: 24, RequiredNumber: wiretest.BigUint32, RequestedNumber: 300,
	}
	extraReqWire = wiretest.B{}.Message(1, familyWire).Varint(2, 24).
			Varint(3, uint64(wiretest.BigUint32)).Varint(4, 300)

	policy = &networkservice.PolicyRoute{
		From: "172.16.0.1/32", Proto: "6", DstPort: "80-81", SrcPort: "1000-2000",
		Routes: []*networkservice.Route{route1, route2},
	}
	policyWire = wiretest.B{}.String(1, "172.16.0.1/32").String(2, "6").String(3, "80-81").
			String(4, "1000-2000").Message(5, route1Wire).Message(5, route2Wire)

	ipContext = &networkservice.IPContext{
		SrcIpAddrs:         []string{"10.0.0.1/32", "fd00::1/128"},
		DstIpAddrs:         []string{"10.0.0.2/32"},
		SrcIpRequired:      true,
		DstIpRequired:      true,
		SrcRoutes:          []*networkservice.Route{route1},
		DstRoutes:          []*networkservice.Route{route2},
		ExcludedPrefixes:   []string{"10.96.0.0/12", "10.244.0.0/16"},
		IpNeighbors:        []*networkservice.IpNeighbor{neighbor},
		ExtraPrefixRequest: []*networkservice.ExtraPrefixRequest{extraReq},
		ExtraPrefixes:      []string{"192.168.0.0/24"},
		Policies:           []*networkservice.PolicyRoute{policy},
	}
	ipContextWire = wiretest.B{}.String(1, "10.0.0.1/32").String(1, "fd00::1/128").
			String(2, "10.0.0.2/32").Bool(3, true).Bool(4, true).
			Message(5, route1Wire).Message(6, route2Wire).
			String(7, "10.96.0.0/12").String(7, "10.244.0.0/16").
			Message(8, neighborWire).Message(9, extraReqWire).
			String(10, "192.168.0.0/24").Message(11, policyWire)

	dnsConfig = &networkservice.DNSConfig{
		DnsServerIps: []string{"10.0.0.53", "fd00::53"}, SearchDomains: []string{"svc.cluster.local"},
	}
	dnsConfigWire = wiretest.B{}.String(1, "10.0.0.53").String(1, "fd00::53").String(2, "svc.cluster.local")

	dnsContext     = &networkservice.DNSContext{Configs: []*networkservice.DNSConfig{dnsConfig, dnsConfig}}
	dnsContextWire = wiretest.B{}.Message(1, dnsConfigWire).Message(1, dnsConfigWire)

	// A negative VLAN tag tells int32 (ten-byte sign extension) from sint32
	// and uint32; no real tag is negative.
	ethernet     = &networkservice.EthernetContext{SrcMac: "02:00:00:00:00:01", DstMac: "02:00:00:00:00:02", VlanTag: -3}
	ethernetWire = wiretest.B{}.String(1, "02:00:00:00:00:01").String(2, "02:00:00:00:00:02").Int32(3, -3)

	connContext = &networkservice.ConnectionContext{
		IpContext:       ipContext,
		DnsContext:      dnsContext,
		EthernetContext: ethernet,
		ExtraContext:    map[string]string{"a": "1", "b": "2"},
		MTU:             1446,
	}
	connContextWire = wiretest.B{}.Message(1, ipContextWire).Message(2, dnsContextWire).
			Message(3, ethernetWire).StringMapEntry(4, "a", "1").StringMapEntry(4, "b", "2").
			Varint(5, 1446)

	mechanism = &networkservice.Mechanism{
		Cls: "LOCAL", Type: "KERNEL",
		Parameters: map[string]string{"inodeURL": "file:///proc/thread-self/ns/net", "name": "nsm-1"},
	}
	mechanismWire = wiretest.B{}.String(1, "LOCAL").String(2, "KERNEL").
			StringMapEntry(3, "inodeURL", "file:///proc/thread-self/ns/net").StringMapEntry(3, "name", "nsm-1")

	segment = &networkservice.PathSegment{
		Name: "nsmgr-1", Id: "6a1f", Token: "eyJ.x.y",
		Expires: &timestamppb.Timestamp{Seconds: 1_900_000_000, Nanos: 123_456_789},
		Metrics: map[string]string{"rx": "10"},
	}
	segmentWire = wiretest.B{}.String(1, "nsmgr-1").String(2, "6a1f").String(3, "eyJ.x.y").
			Timestamp(4, 1_900_000_000, 123_456_789).StringMapEntry(5, "rx", "10")

	segment2     = &networkservice.PathSegment{Name: "nsc", Id: "c0", Token: "t0", Expires: &timestamppb.Timestamp{Seconds: 5}, Metrics: map[string]string{"k": "v"}}
	segment2Wire = wiretest.B{}.String(1, "nsc").String(2, "c0").String(3, "t0").
			Timestamp(4, 5, 0).StringMapEntry(5, "k", "v")

	path     = &networkservice.Path{Index: 1, PathSegments: []*networkservice.PathSegment{segment2, segment}}
	pathWire = wiretest.B{}.Varint(1, 1).Message(2, segment2Wire).Message(2, segmentWire)

	conn = &networkservice.Connection{
		Id:                         "6a1f",
		NetworkService:             "red@example.com",
		Mechanism:                  mechanism,
		Context:                    connContext,
		Labels:                     map[string]string{"app": "web", "nodeName": "node-1"},
		Path:                       path,
		NetworkServiceEndpointName: "nse-1",
		Payload:                    "ETHERNET",
		State:                      networkservice.State_RESELECT_REQUESTED,
	}
	connWire = wiretest.B{}.String(1, "6a1f").String(2, "red@example.com").Message(3, mechanismWire).
			Message(4, connContextWire).StringMapEntry(5, "app", "web").StringMapEntry(5, "nodeName", "node-1").
			Message(6, pathWire).String(7, "nse-1").String(8, "ETHERNET").Varint(9, 3)
)

var wireCases = []wiretest.Case{
	{Want: neighbor, Wire: neighborWire},
	{Want: route1, Wire: route1Wire},
	{Want: family, Wire: familyWire},
	{Want: extraReq, Wire: extraReqWire},
	{Want: policy, Wire: policyWire},
	{Want: ipContext, Wire: ipContextWire},
	{Want: dnsConfig, Wire: dnsConfigWire},
	{Want: dnsContext, Wire: dnsContextWire},
	{Want: ethernet, Wire: ethernetWire},
	{Want: connContext, Wire: connContextWire},
	{Want: mechanism, Wire: mechanismWire},
	{Want: segment, Wire: segmentWire},
	{Want: path, Wire: pathWire},
	{Want: conn, Wire: connWire},
	{
		Want: &networkservice.ConnectionEvent{
			Type:        networkservice.ConnectionEventType_DELETE,
			Connections: map[string]*networkservice.Connection{"6a1f": conn},
		},
		Wire: wiretest.B{}.Varint(1, 2).MessageMapEntry(2, "6a1f", connWire),
	},
	{
		Want: &networkservice.MonitorScopeSelector{
			PathSegments:    []*networkservice.PathSegment{segment2, segment},
			NetworkServices: []string{"red", "blue"},
		},
		Wire: wiretest.B{}.Message(1, segment2Wire).Message(1, segmentWire).String(2, "red").String(2, "blue"),
	},
	{
		Want: &networkservice.NetworkServiceRequest{
			Connection:           conn,
			MechanismPreferences: []*networkservice.Mechanism{mechanism, {Cls: "REMOTE", Type: "VXLAN", Parameters: map[string]string{"src_ip": "192.0.2.1"}}},
		},
		Wire: wiretest.B{}.Message(1, connWire).Message(2, mechanismWire).
			Message(2, wiretest.B{}.String(1, "REMOTE").String(2, "VXLAN").StringMapEntry(3, "src_ip", "192.0.2.1")),
	},
}

func TestWire(t *testing.T) {
	var tested []protoreflect.FullName
	for _, c := range wireCases {
		name := c.Want.ProtoReflect().Descriptor().FullName()
		tested = append(tested, name)
		t.Run(string(name), func(t *testing.T) { wiretest.Check(t, c) })
	}
	for _, file := range []string{"connectioncontext.proto", "connection.proto", "networkservice.proto"} {
		wiretest.CheckCoverage(t, file, tested)
	}
	for name := range schemas {
		found := false
		for _, n := range tested {
			found = found || n == name
		}
		if !found {
			t.Errorf("schema table has %s but no wire case", name)
		}
	}
}

// TestWireDetectsMistakes shows the check is not vacuous: bytes with a field
// number or wire type that differs from the reference do not pass.
func TestWireDetectsMistakes(t *testing.T) {
	for name, wire := range map[string]wiretest.B{
		"wrong number": wiretest.B{}.String(1, "10.1.0.0/16").String(3, "10.0.0.1"),
		"wrong type":   wiretest.B{}.String(1, "10.1.0.0/16").Varint(2, 7),
	} {
		got := &networkservice.Route{}
		err := proto.Unmarshal(wire, got)
		if err == nil && len(got.ProtoReflect().GetUnknown()) == 0 && proto.Equal(got, route1) {
			t.Errorf("%s: mis-encoded bytes decoded to the expected value", name)
		}
		if err == nil && len(got.ProtoReflect().GetUnknown()) == 0 {
			t.Errorf("%s: mis-encoded bytes left no unknown field behind", name)
		}
	}
}
