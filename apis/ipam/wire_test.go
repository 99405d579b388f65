// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package ipam_test

import (
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/nsmesh/nsmesh/apis/internal/wiretest"
	"github.com/nsmesh/nsmesh/apis/ipam"
)

// Transcribed from nsm-reference §1.6, not derived from ipam.proto.
var f = wiretest.F

func TestSchema(t *testing.T) {
	wiretest.CheckSchema(t, "ipam.PrefixRequest", []wiretest.Field{
		f(1, "type", "ipam.Type"), f(2, "prefix", "string"), f(3, "exclude_prefixes", "repeated string"),
	})
	// Field 1 is absent upstream; starting at 2 is part of the wire format.
	wiretest.CheckSchema(t, "ipam.PrefixResponse", []wiretest.Field{
		f(2, "prefix", "string"), f(3, "exclude_prefixes", "repeated string"),
	})
	wiretest.CheckEnum(t, "ipam.Type", map[string]protoreflect.EnumNumber{"UNDEFINED": 0, "ALLOCATE": 1, "DELETE": 2})
}

func TestService(t *testing.T) {
	wiretest.CheckService(t, "ipam.IPAM", []wiretest.Method{{
		FullMethod: "/ipam.IPAM/ManagePrefixes", Input: "ipam.PrefixRequest", Output: "ipam.PrefixResponse",
		ClientStream: true, ServerStream: true,
	}})
	if ipam.IPAM_ManagePrefixes_FullMethodName != "/ipam.IPAM/ManagePrefixes" || ipam.IPAM_ServiceDesc.ServiceName != "ipam.IPAM" {
		t.Errorf("generated gRPC names %q, %q", ipam.IPAM_ManagePrefixes_FullMethodName, ipam.IPAM_ServiceDesc.ServiceName)
	}
}

func TestWire(t *testing.T) {
	cases := []wiretest.Case{
		{
			Want: &ipam.PrefixRequest{Type: ipam.Type_DELETE, Prefix: "10.10.0.0/24", ExcludePrefixes: []string{"10.10.1.0/24", "10.10.2.0/24"}},
			Wire: wiretest.B{}.Varint(1, 2).String(2, "10.10.0.0/24").String(3, "10.10.1.0/24").String(3, "10.10.2.0/24"),
		},
		{
			Want: &ipam.PrefixResponse{Prefix: "10.10.0.0/24", ExcludePrefixes: []string{"10.10.1.0/24"}},
			Wire: wiretest.B{}.String(2, "10.10.0.0/24").String(3, "10.10.1.0/24"),
		},
	}
	var tested []protoreflect.FullName
	for _, c := range cases {
		name := c.Want.ProtoReflect().Descriptor().FullName()
		tested = append(tested, name)
		t.Run(string(name), func(t *testing.T) { wiretest.Check(t, c) })
	}
	wiretest.CheckCoverage(t, "ipam.proto", tested)
}
