// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package discover_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/networkservice/discover"
)

func nse(name string, labels map[string]string) *registry.NetworkServiceEndpoint {
	return &registry.NetworkServiceEndpoint{
		Name:                 name,
		NetworkServiceNames:  []string{"svc"},
		NetworkServiceLabels: map[string]*registry.NetworkServiceLabels{"svc": {Labels: labels}},
		Url:                  "unix:///run/" + name + ".sock",
	}
}

func names(nses []*registry.NetworkServiceEndpoint) []string {
	out := []string{}
	for _, n := range nses {
		out = append(out, n.GetName())
	}
	return out
}

func TestMatchEndpoints(t *testing.T) {
	nses := []*registry.NetworkServiceEndpoint{
		nse("a", map[string]string{"app": "fw", "nodeName": "n1"}),
		nse("b", map[string]string{"app": "fw", "nodeName": "n2"}),
		nse("c", map[string]string{"app": "db"}),
		nse("d", nil),
	}
	route := func(sel map[string]string) *registry.Destination {
		return &registry.Destination{DestinationSelector: sel}
	}
	tests := []struct {
		name    string
		labels  map[string]string
		matches []*registry.Match
		want    []string
		wantErr error
	}{
		{name: "no matches: every endpoint", want: []string{"a", "b", "c", "d"}},
		{
			name:    "destination selector",
			matches: []*registry.Match{{Routes: []*registry.Destination{route(map[string]string{"app": "fw"})}}},
			want:    []string{"a", "b"},
		},
		{
			name:   "source selector picks the match",
			labels: map[string]string{"tier": "back"},
			matches: []*registry.Match{
				{SourceSelector: map[string]string{"tier": "front"}, Routes: []*registry.Destination{route(map[string]string{"app": "fw"})}},
				{SourceSelector: map[string]string{"tier": "back"}, Routes: []*registry.Destination{route(map[string]string{"app": "db"})}},
			},
			want: []string{"c"},
		},
		{
			name:    "routes are a union in route order without duplicates",
			matches: []*registry.Match{{Routes: []*registry.Destination{route(map[string]string{"app": "db"}), route(map[string]string{"app": "fw"}), route(map[string]string{"nodeName": "n1"})}}},
			want:    []string{"c", "a", "b"},
		},
		{
			name:   "template compares with the request's labels",
			labels: map[string]string{"nodeName": "n2"},
			matches: []*registry.Match{{Routes: []*registry.Destination{
				route(map[string]string{"nodeName": "{{.nodeName}}"}),
			}}},
			want: []string{"b"},
		},
		{
			name:   "literal value that looks like a template matches literally first",
			labels: map[string]string{},
			matches: []*registry.Match{{Routes: []*registry.Destination{
				route(map[string]string{"app": "{{.app}}"}),
			}}},
			want: []string{},
		},
		{
			name: "template over a missing request label does not match",
			matches: []*registry.Match{{Routes: []*registry.Destination{
				route(map[string]string{"nodeName": "{{.nodeName}}"}),
			}}},
			want: []string{},
		},
		{
			name: "fallthrough passes an empty match on",
			matches: []*registry.Match{
				{Fallthrough: true, Routes: []*registry.Destination{route(map[string]string{"app": "cache"})}},
				{Routes: []*registry.Destination{route(map[string]string{"app": "db"})}},
			},
			want: []string{"c"},
		},
		{
			name: "without fallthrough an empty match is final",
			matches: []*registry.Match{
				{Routes: []*registry.Destination{route(map[string]string{"app": "cache"})}},
				{Routes: []*registry.Destination{route(map[string]string{"app": "db"})}},
			},
			want: []string{},
		},
		{
			name:    "metadata without routes selects every endpoint",
			matches: []*registry.Match{{Metadata: &registry.Metadata{Labels: map[string]string{"p2p": "true"}}}},
			want:    []string{"a", "b", "c", "d"},
		},
		{
			name:    "no applicable match: nothing",
			matches: []*registry.Match{{SourceSelector: map[string]string{"tier": "front"}}},
			want:    []string{},
		},
		{
			name:   "template inside text",
			labels: map[string]string{"nodeName": "n"},
			matches: []*registry.Match{{Routes: []*registry.Destination{
				route(map[string]string{"nodeName": "{{ .nodeName }}1"}),
			}}},
			want: []string{"a"},
		},
		{
			name:    "templates may only reference labels",
			labels:  map[string]string{"app": "x"},
			matches: []*registry.Match{{Routes: []*registry.Destination{route(map[string]string{"app": "{{range 999999999}}{{end}}"})}}},
			wantErr: discover.ErrBadSelector,
		},
		{
			name:    "malformed template",
			matches: []*registry.Match{{Routes: []*registry.Destination{route(map[string]string{"app": "{{.app"})}}},
			wantErr: discover.ErrBadSelector,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := &registry.NetworkService{Name: "svc", Matches: tt.matches}
			got, err := discover.MatchEndpoints(tt.labels, ns, nses)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err == nil && !slices.Equal(names(got), tt.want) {
				t.Fatalf("got %v, want %v", names(got), tt.want)
			}
		})
	}
}

func FuzzMatchSelector(f *testing.F) {
	f.Add("nodeName", "{{.nodeName}}", "n1", "n1")
	f.Add("app", "{{if eq .app \"x\"}}y{{end}}", "y", "x")
	f.Add("k", "{{range 999999999}}{{end}}", "v", "x")
	f.Add("k", "{{printf \"%999999999d\" 1}}", "v", "x")
	f.Add("k", "pre-{{ .nodeName }}-post", "pre-n-post", "n")
	f.Add("k", "{{", "v", "v")
	f.Add("k", "{{range .}}{{.}}{{end}}", "ab", "a")
	f.Fuzz(func(t *testing.T, key, want, have, label string) {
		sel := map[string]string{key: want}
		ok, err := discover.MatchSelector(sel, map[string]string{key: have}, map[string]string{key: label, "nodeName": label})
		if err != nil && !errors.Is(err, discover.ErrBadSelector) {
			t.Fatalf("unexpected error kind: %v", err)
		}
		if want == have && (!ok || err != nil) {
			t.Fatalf("literal equal values must match: %q", want)
		}
		if ok && err != nil {
			t.Fatal("match and error at once")
		}
	})
}
