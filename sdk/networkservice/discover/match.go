// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package discover

import (
	"errors"
	"fmt"
	"strings"
	"text/template"
	"text/template/parse"

	"github.com/nsmesh/nsmesh/apis/registry"
)

// ErrBadSelector is wrapped by the errors of selectors that cannot be
// evaluated (a value that is not a valid Go template).
var ErrBadSelector = errors.New("discover: malformed selector")

// MatchSelector reports whether every key of selector is in have with a
// matching value. A selector value is compared literally first; if that
// fails and it contains "{{" it is run as a Go text/template over labels
// (the request's labels, e.g. {{.nodeName}}) and the result compared. A
// template that refers to a label the request does not have does not match.
// Templates may only reference labels; anything else is ErrBadSelector.
func MatchSelector(selector, have, labels map[string]string) (bool, error) {
	for k, want := range selector {
		got, ok := have[k]
		if !ok {
			return false, nil
		}
		if got == want {
			continue
		}
		if !strings.Contains(want, "{{") {
			return false, nil
		}
		expanded, ok, err := expand(k, want, labels)
		if err != nil {
			return false, err
		}
		if !ok || expanded != got {
			return false, nil
		}
	}
	return true, nil
}

// expand evaluates value as a template over labels; ok is false when it
// refers to a label the request does not have. Only label references
// ({{.name}}) are accepted: selectors come from registrations, and ranges,
// printf widths or nested templates would let one registration make every
// Request loop or allocate without bound.
func expand(key, value string, labels map[string]string) (string, bool, error) {
	t, err := template.New(key).Parse(value)
	if err != nil {
		return "", false, fmt.Errorf("%w: label %q: %q: %v", ErrBadSelector, key, value, err)
	}
	var b strings.Builder
	for _, n := range t.Root.Nodes {
		switch n := n.(type) {
		case *parse.TextNode:
			b.Write(n.Text)
		case *parse.ActionNode:
			name, ok := labelRef(n)
			if !ok {
				return "", false, fmt.Errorf("%w: label %q: %q: only label references such as {{.nodeName}} are supported, not %s", ErrBadSelector, key, value, n)
			}
			v, ok := labels[name]
			if !ok {
				return "", false, nil
			}
			b.WriteString(v)
		default:
			return "", false, fmt.Errorf("%w: label %q: %q: only label references such as {{.nodeName}} are supported, not %s", ErrBadSelector, key, value, n)
		}
	}
	return b.String(), true, nil
}

// labelRef returns name for an action that is exactly {{.name}}.
func labelRef(n *parse.ActionNode) (string, bool) {
	p := n.Pipe
	if p == nil || len(p.Decl) != 0 || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
		return "", false
	}
	f, ok := p.Cmds[0].Args[0].(*parse.FieldNode)
	if !ok || len(f.Ident) != 1 {
		return "", false
	}
	return f.Ident[0], true
}

// MatchEndpoints selects the endpoints of nses that may serve a connection
// with labels, following the service's matches (nsm-reference §4.1):
//   - without matches every endpoint qualifies;
//   - otherwise the first match whose source_selector the labels satisfy
//     decides: the union, in route order, of the endpoints whose labels for
//     this service satisfy a route's destination_selector;
//   - a fallthrough match that selects nothing passes on to the next match;
//   - a match with metadata, no routes and no result selects every endpoint;
//   - when no match applies the result is empty.
func MatchEndpoints(labels map[string]string, ns *registry.NetworkService, nses []*registry.NetworkServiceEndpoint) ([]*registry.NetworkServiceEndpoint, error) {
	if len(ns.GetMatches()) == 0 {
		return nses, nil
	}
	for _, m := range ns.GetMatches() {
		ok, err := MatchSelector(m.GetSourceSelector(), labels, labels)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		var out []*registry.NetworkServiceEndpoint
		seen := make(map[string]bool)
		for _, route := range m.GetRoutes() {
			for _, nse := range nses {
				if seen[nse.GetName()] {
					continue
				}
				nseLabels := nse.GetNetworkServiceLabels()[ns.GetName()].GetLabels()
				ok, err := MatchSelector(route.GetDestinationSelector(), nseLabels, labels)
				if err != nil {
					return nil, err
				}
				if ok {
					seen[nse.GetName()] = true
					out = append(out, nse)
				}
			}
		}
		if m.GetFallthrough() && len(out) == 0 {
			continue
		}
		if m.GetMetadata() != nil && len(m.GetRoutes()) == 0 && len(out) == 0 {
			return nses, nil
		}
		return out, nil
	}
	return nil, nil
}
