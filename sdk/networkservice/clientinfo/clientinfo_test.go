// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package clientinfo_test

import (
	"context"
	"maps"
	"testing"

	"go.uber.org/goleak"

	"github.com/nsmesh/nsmesh/apis/networkservice"
	"github.com/nsmesh/nsmesh/sdk/core/chain"
	"github.com/nsmesh/nsmesh/sdk/networkservice/clientinfo"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestLabels(t *testing.T) {
	tests := []struct {
		name   string
		env    map[string]string
		labels map[string]string
		want   map[string]string
	}{
		{
			name: "all three from the environment",
			env:  map[string]string{"NODE_NAME": "n1", "POD_NAME": "p1", "CLUSTER_NAME": "c1"},
			want: map[string]string{"nodeName": "n1", "podName": "p1", "clusterName": "c1"},
		},
		{
			name: "empty variables add nothing",
			env:  map[string]string{"NODE_NAME": "n1", "POD_NAME": ""},
			want: map[string]string{"nodeName": "n1"},
		},
		{
			name:   "existing labels are never overwritten",
			env:    map[string]string{"NODE_NAME": "n1", "POD_NAME": "p1"},
			labels: map[string]string{"nodeName": "mine", "app": "web"},
			want:   map[string]string{"nodeName": "mine", "podName": "p1", "app": "web"},
		},
		{
			name:   "nothing set: labels unchanged",
			labels: map[string]string{"app": "web"},
			want:   map[string]string{"app": "web"},
		},
		{
			name: "nothing at all",
			want: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := clientinfo.WithGetenv(func(k string) string { return tt.env[k] })
			for _, side := range []string{"client", "server"} {
				conn := &networkservice.Connection{Id: "c", Labels: maps.Clone(tt.labels)}
				req := &networkservice.NetworkServiceRequest{Connection: conn}
				var err error
				if side == "client" {
					_, err = chain.NewClient(clientinfo.NewClient(getenv)).Request(context.Background(), req)
				} else {
					_, err = chain.NewServer(clientinfo.NewServer(getenv)).Request(context.Background(), req)
				}
				if err != nil {
					t.Fatal(err)
				}
				if !maps.Equal(req.GetConnection().GetLabels(), tt.want) {
					t.Fatalf("%s: labels %v, want %v", side, req.GetConnection().GetLabels(), tt.want)
				}
			}
		})
	}
}

func TestRealEnvironment(t *testing.T) {
	t.Setenv("NODE_NAME", "node-from-env")
	if got := clientinfo.Labels()["nodeName"]; got != "node-from-env" {
		t.Fatalf("nodeName %q from the process environment", got)
	}
}
