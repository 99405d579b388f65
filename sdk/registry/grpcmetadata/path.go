// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package grpcmetadata

import (
	"context"
	"encoding/json"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// MetadataKey is the gRPC metadata key of the registry path.
const MetadataKey = "path"

// Path is the registry path of a registration: one token per hop, Index at
// the hop handling it. The field names are the JSON names upstream uses.
type Path struct {
	Index        uint32
	PathSegments []*PathSegment
}

// PathSegment is one hop of a Path.
type PathSegment struct {
	Token string `json:"token"`
}

// Clone returns a deep copy of p.
func (p *Path) Clone() *Path {
	if p == nil {
		return nil
	}
	out := &Path{Index: p.Index, PathSegments: make([]*PathSegment, len(p.PathSegments))}
	for i, s := range p.PathSegments {
		if s != nil {
			out.PathSegments[i] = &PathSegment{Token: s.Token}
		} else {
			out.PathSegments[i] = &PathSegment{}
		}
	}
	return out
}

// Set replaces p's contents with q's.
func (p *Path) Set(q *Path) {
	c := q.Clone()
	p.Index, p.PathSegments = c.Index, c.PathSegments
}

// Encode returns the wire form of p.
func (p *Path) Encode() (string, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("grpcmetadata: encode path: %w", err)
	}
	return string(b), nil
}

// Decode parses the wire form of a path.
func Decode(s string) (*Path, error) {
	p := &Path{}
	if err := json.Unmarshal([]byte(s), p); err != nil {
		return nil, fmt.Errorf("grpcmetadata: decode path %q: %w", s, err)
	}
	for i, seg := range p.PathSegments {
		if seg == nil {
			p.PathSegments[i] = &PathSegment{}
		}
	}
	if len(p.PathSegments) > 0 && int(p.Index) >= len(p.PathSegments) {
		return nil, fmt.Errorf("grpcmetadata: path index %d is outside its %d segments", p.Index, len(p.PathSegments))
	}
	return p, nil
}

// fromMD returns the last path of md; ok is false when md has none.
func fromMD(md metadata.MD) (p *Path, ok bool, err error) {
	vals := md.Get(MetadataKey)
	if len(vals) == 0 {
		return nil, false, nil
	}
	p, err = Decode(vals[len(vals)-1])
	if err != nil {
		return nil, true, status.Errorf(codes.InvalidArgument, "registry: bad %q metadata: %v", MetadataKey, err)
	}
	return p, true, nil
}

type pathKey struct{}

// WithPath returns ctx carrying p.
func WithPath(ctx context.Context, p *Path) context.Context {
	return context.WithValue(ctx, pathKey{}, p)
}

// PathFromContext returns the Path ctx carries, or nil.
func PathFromContext(ctx context.Context) *Path {
	p, _ := ctx.Value(pathKey{}).(*Path)
	return p
}

// Detach returns ctx with a copy of its path, for contexts kept beyond the
// call (events replayed later): the hops of the original call keep writing to
// their own path, the replay gets its own.
func Detach(ctx context.Context) context.Context {
	if p := PathFromContext(ctx); p != nil {
		return WithPath(ctx, p.Clone())
	}
	return ctx
}
