// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package networkservice_test

import (
	"encoding/json"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/nsmesh/nsmesh/apis/networkservice"
)

// Upstream feeds the generated structs to encoding/json (OPA policy input,
// NSM_DNS_CONFIGS, policy-based-routing YAML), so these exact names are part
// of the interface (nsm-reference §1.7).
func TestJSONNames(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   any
		want string
	}{
		{"route keeps nextHop", &networkservice.Route{Prefix: "10.0.0.0/8", NextHop: "10.0.0.1"}, `{"prefix":"10.0.0.0/8","nextHop":"10.0.0.1"}`},
		{"context keeps MTU", &networkservice.ConnectionContext{MTU: 1500}, `{"MTU":1500}`},
		{"path omits index 0", &networkservice.Path{PathSegments: []*networkservice.PathSegment{{Name: "nsc"}}}, `{"path_segments":[{"name":"nsc"}]}`},
		{
			"path segment",
			&networkservice.Path{Index: 2, PathSegments: []*networkservice.PathSegment{{
				Name: "a", Id: "b", Token: "c", Expires: &timestamppb.Timestamp{Seconds: 7, Nanos: 8}, Metrics: map[string]string{"m": "1"},
			}}},
			`{"index":2,"path_segments":[{"name":"a","id":"b","token":"c","expires":{"seconds":7,"nanos":8},"metrics":{"m":"1"}}]}`,
		},
		{"dns config", &networkservice.DNSConfig{DnsServerIps: []string{"10.0.0.53"}, SearchDomains: []string{"x"}}, `{"dns_server_ips":["10.0.0.53"],"search_domains":["x"]}`},
		{
			"policy route",
			&networkservice.PolicyRoute{From: "10.0.0.1/32", Proto: "6", DstPort: "80", SrcPort: "1-2", Routes: []*networkservice.Route{{Prefix: "0.0.0.0/0"}}},
			`{"from":"10.0.0.1/32","proto":"6","dst_port":"80","src_port":"1-2","routes":[{"prefix":"0.0.0.0/0"}]}`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := json.Marshal(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("json:\n  got  %s\n  want %s", got, tc.want)
			}
		})
	}
}

// NSM_DNS_CONFIGS is a JSON array of DNSConfig in the snake_case form.
func TestJSONDecodeDNSConfigs(t *testing.T) {
	var got []*networkservice.DNSConfig
	if err := json.Unmarshal([]byte(`[{"dns_server_ips":["10.0.0.53","fd00::53"],"search_domains":["a.svc"]},{"dns_server_ips":["1.1.1.1"]}]`), &got); err != nil {
		t.Fatal(err)
	}
	want := []*networkservice.DNSConfig{
		{DnsServerIps: []string{"10.0.0.53", "fd00::53"}, SearchDomains: []string{"a.svc"}},
		{DnsServerIps: []string{"1.1.1.1"}},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d configs, want %d", len(got), len(want))
	}
	for i := range want {
		if !proto.Equal(got[i], want[i]) {
			t.Errorf("config %d: got %v, want %v", i, got[i], want[i])
		}
	}
}
