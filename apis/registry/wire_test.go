// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package registry_test

import (
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/nsmesh/nsmesh/apis/internal/wiretest"
	"github.com/nsmesh/nsmesh/apis/registry"
)

// Transcribed from nsm-reference §1.5, not derived from registry.proto.
var f = wiretest.F

var schemas = map[protoreflect.FullName][]wiretest.Field{
	"registry.NetworkService": {
		f(1, "name", "string"), f(2, "payload", "string"), f(3, "matches", "repeated registry.Match"),
		f(4, "path_ids", "repeated string"),
	},
	"registry.Match": {
		f(1, "source_selector", "map<string,string>"), f(2, "routes", "repeated registry.Destination"),
		f(3, "fallthrough", "bool"), f(4, "metadata", "registry.Metadata"),
	},
	"registry.Metadata":             {f(1, "labels", "map<string,string>")},
	"registry.Destination":          {f(1, "destination_selector", "map<string,string>"), f(2, "weight", "uint32")},
	"registry.NetworkServiceLabels": {f(1, "labels", "map<string,string>")},
	"registry.NetworkServiceEndpoint": {
		f(1, "name", "string"), f(2, "network_service_names", "repeated string"),
		f(3, "network_service_labels", "map<string,registry.NetworkServiceLabels>"), f(4, "url", "string"),
		f(5, "expiration_time", "google.protobuf.Timestamp"), f(6, "initial_registration_time", "google.protobuf.Timestamp"),
		f(7, "path_ids", "repeated string"),
	},
	"registry.NetworkServiceQuery":            {f(1, "network_service", "registry.NetworkService"), f(2, "watch", "bool")},
	"registry.NetworkServiceEndpointQuery":    {f(1, "network_service_endpoint", "registry.NetworkServiceEndpoint"), f(2, "watch", "bool")},
	"registry.NetworkServiceResponse":         {f(1, "network_service", "registry.NetworkService"), f(2, "deleted", "bool")},
	"registry.NetworkServiceEndpointResponse": {f(1, "network_service_endpoint", "registry.NetworkServiceEndpoint"), f(2, "deleted", "bool")},
}

func TestSchema(t *testing.T) {
	for name, fields := range schemas {
		t.Run(string(name), func(t *testing.T) { wiretest.CheckSchema(t, name, fields) })
	}
}

func TestServices(t *testing.T) {
	wiretest.CheckService(t, "registry.NetworkServiceEndpointRegistry", []wiretest.Method{
		{FullMethod: "/registry.NetworkServiceEndpointRegistry/Register", Input: "registry.NetworkServiceEndpoint", Output: "registry.NetworkServiceEndpoint"},
		{FullMethod: "/registry.NetworkServiceEndpointRegistry/Find", Input: "registry.NetworkServiceEndpointQuery", Output: "registry.NetworkServiceEndpointResponse", ServerStream: true},
		{FullMethod: "/registry.NetworkServiceEndpointRegistry/Unregister", Input: "registry.NetworkServiceEndpoint", Output: "google.protobuf.Empty"},
	})
	wiretest.CheckService(t, "registry.NetworkServiceRegistry", []wiretest.Method{
		{FullMethod: "/registry.NetworkServiceRegistry/Register", Input: "registry.NetworkService", Output: "registry.NetworkService"},
		{FullMethod: "/registry.NetworkServiceRegistry/Find", Input: "registry.NetworkServiceQuery", Output: "registry.NetworkServiceResponse", ServerStream: true},
		{FullMethod: "/registry.NetworkServiceRegistry/Unregister", Input: "registry.NetworkService", Output: "google.protobuf.Empty"},
	})
	for got, want := range map[string]string{
		registry.NetworkServiceEndpointRegistry_Register_FullMethodName:   "/registry.NetworkServiceEndpointRegistry/Register",
		registry.NetworkServiceEndpointRegistry_Find_FullMethodName:       "/registry.NetworkServiceEndpointRegistry/Find",
		registry.NetworkServiceEndpointRegistry_Unregister_FullMethodName: "/registry.NetworkServiceEndpointRegistry/Unregister",
		registry.NetworkServiceRegistry_Register_FullMethodName:           "/registry.NetworkServiceRegistry/Register",
		registry.NetworkServiceRegistry_Find_FullMethodName:               "/registry.NetworkServiceRegistry/Find",
		registry.NetworkServiceRegistry_Unregister_FullMethodName:         "/registry.NetworkServiceRegistry/Unregister",
		registry.NetworkServiceEndpointRegistry_ServiceDesc.ServiceName:   "registry.NetworkServiceEndpointRegistry",
		registry.NetworkServiceRegistry_ServiceDesc.ServiceName:           "registry.NetworkServiceRegistry",
	} {
		if got != want {
			t.Errorf("generated gRPC name %q, want %q", got, want)
		}
	}
}

func TestWire(t *testing.T) {
	destination := &registry.Destination{DestinationSelector: map[string]string{"app": "fw", "zone": "a"}, Weight: wiretest.BigUint32}
	destinationWire := wiretest.B{}.StringMapEntry(1, "app", "fw").StringMapEntry(1, "zone", "a").Varint(2, uint64(wiretest.BigUint32))
	metadata := &registry.Metadata{Labels: map[string]string{"p2p": "true"}}
	metadataWire := wiretest.B{}.StringMapEntry(1, "p2p", "true")
	match := &registry.Match{
		SourceSelector: map[string]string{"app": "{{.app}}"},
		Routes:         []*registry.Destination{destination, destination},
		Fallthrough:    true,
		Metadata:       metadata,
	}
	matchWire := wiretest.B{}.StringMapEntry(1, "app", "{{.app}}").Message(2, destinationWire).Message(2, destinationWire).
		Bool(3, true).Message(4, metadataWire)
	ns := &registry.NetworkService{
		Name: "red", Payload: "IP", Matches: []*registry.Match{match},
		PathIds: []string{"spiffe://example.org/nse", "spiffe://example.org/nsmgr"},
	}
	nsWire := wiretest.B{}.String(1, "red").String(2, "IP").Message(3, matchWire).
		String(4, "spiffe://example.org/nse").String(4, "spiffe://example.org/nsmgr")
	labels := &registry.NetworkServiceLabels{Labels: map[string]string{"app": "fw"}}
	labelsWire := wiretest.B{}.StringMapEntry(1, "app", "fw")
	nse := &registry.NetworkServiceEndpoint{
		Name:                    "nse-1",
		NetworkServiceNames:     []string{"red", "blue"},
		NetworkServiceLabels:    map[string]*registry.NetworkServiceLabels{"red": labels},
		Url:                     "tcp://192.0.2.1:5001",
		ExpirationTime:          &timestamppb.Timestamp{Seconds: 1_900_000_000, Nanos: 5},
		InitialRegistrationTime: &timestamppb.Timestamp{Seconds: 1_800_000_000, Nanos: 999_999_999},
		PathIds:                 []string{"spiffe://example.org/nse"},
	}
	nseWire := wiretest.B{}.String(1, "nse-1").String(2, "red").String(2, "blue").
		MessageMapEntry(3, "red", labelsWire).String(4, "tcp://192.0.2.1:5001").
		Timestamp(5, 1_900_000_000, 5).Timestamp(6, 1_800_000_000, 999_999_999).
		String(7, "spiffe://example.org/nse")

	cases := []wiretest.Case{
		{Want: destination, Wire: destinationWire},
		{Want: metadata, Wire: metadataWire},
		{Want: match, Wire: matchWire},
		{Want: ns, Wire: nsWire},
		{Want: labels, Wire: labelsWire},
		{Want: nse, Wire: nseWire},
		{Want: &registry.NetworkServiceQuery{NetworkService: ns, Watch: true}, Wire: wiretest.B{}.Message(1, nsWire).Bool(2, true)},
		{Want: &registry.NetworkServiceEndpointQuery{NetworkServiceEndpoint: nse, Watch: true}, Wire: wiretest.B{}.Message(1, nseWire).Bool(2, true)},
		{Want: &registry.NetworkServiceResponse{NetworkService: ns, Deleted: true}, Wire: wiretest.B{}.Message(1, nsWire).Bool(2, true)},
		{Want: &registry.NetworkServiceEndpointResponse{NetworkServiceEndpoint: nse, Deleted: true}, Wire: wiretest.B{}.Message(1, nseWire).Bool(2, true)},
	}
	var tested []protoreflect.FullName
	for _, c := range cases {
		name := c.Want.ProtoReflect().Descriptor().FullName()
		tested = append(tested, name)
		if _, ok := schemas[name]; !ok {
			t.Errorf("%s has a wire case but no schema row", name)
		}
		t.Run(string(name), func(t *testing.T) { wiretest.Check(t, c) })
	}
	wiretest.CheckCoverage(t, "registry.proto", tested)
}

func TestGoTypesAndFiles(t *testing.T) {
	d := (&registry.NetworkServiceEndpoint{}).ProtoReflect().Descriptor()
	if d.FullName() != "registry.NetworkServiceEndpoint" || d.ParentFile().Path() != "registry.proto" || d.ParentFile().Package() != "registry" {
		t.Errorf("NetworkServiceEndpoint is %s in %q (package %s)", d.FullName(), d.ParentFile().Path(), d.ParentFile().Package())
	}
}
