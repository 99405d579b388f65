// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package opa

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Query is the rule every policy must define: true allows.
const Query = "data.nsm.valid"

// ReasonQuery is the optional rule that explains a denial.
const ReasonQuery = "data.nsm.reason"

// Policy is one prepared Rego policy.
type Policy struct {
	name, file string
	valid      rego.PreparedEvalQuery
	reason     *rego.PreparedEvalQuery
}

// Option changes how a policy is prepared.
type Option func(*options)

type options struct {
	data map[string]any
}

// WithData sets the policy's data document (instead of the JSON file beside
// it).
func WithData(data map[string]any) Option {
	return func(o *options) { o.data = data }
}

// New compiles and prepares the policy in src; file names it in messages
// (its base name without .rego is the policy's name).
func New(ctx context.Context, file string, src []byte, opts ...Option) (*Policy, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	mod, err := parse(file, src)
	if err != nil {
		return nil, err
	}
	if mod.Package.Path.String() != "data.nsm" {
		return nil, fmt.Errorf("opa: %s: package %s, want package nsm (the query is %s)", file, strings.TrimPrefix(mod.Package.Path.String(), "data."), Query)
	}
	if !defines(mod, "valid") {
		return nil, fmt.Errorf("opa: %s: defines no rule valid (the query is %s)", file, Query)
	}
	if o.data == nil {
		o.data = map[string]any{}
	}
	prep := func(q string) (rego.PreparedEvalQuery, error) {
		return rego.New(
			rego.Query(q),
			rego.ParsedModule(mod),
			rego.Store(inmem.NewFromObject(o.data)),
			rego.StrictBuiltinErrors(true),
		).PrepareForEval(ctx)
	}
	p := &Policy{name: strings.TrimSuffix(filepath.Base(file), ".rego"), file: file}
	if p.valid, err = prep(Query); err != nil {
		return nil, prepError(file, err)
	}
	if defines(mod, "reason") {
		r, err := prep(ReasonQuery)
		if err != nil {
			return nil, prepError(file, err)
		}
		p.reason = &r
	}
	return p, nil
}

// parse accepts Rego v1 and, for upstream's policies, v0.
func parse(file string, src []byte) (*ast.Module, error) {
	mod, err := ast.ParseModuleWithOpts(file, string(src), ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err == nil {
		return mod, nil
	}
	if old, err0 := ast.ParseModuleWithOpts(file, string(src), ast.ParserOptions{RegoVersion: ast.RegoV0}); err0 == nil {
		return old, nil
	}
	return nil, fmt.Errorf("opa: %s", oneLine(err))
}

// prepError names file unless OPA's errors already locate themselves.
func prepError(file string, err error) error {
	var errs ast.Errors
	if errors.As(err, &errs) {
		return fmt.Errorf("opa: %s", oneLine(err))
	}
	return fmt.Errorf("opa: %s: %s", file, oneLine(err))
}

// oneLine shortens OPA's multi-line compile errors (with source excerpts) to
// "file:row: code: message; ...".
func oneLine(err error) string {
	var errs ast.Errors
	if errors.As(err, &errs) {
		parts := make([]string, 0, len(errs))
		for _, e := range errs {
			loc := ""
			if e.Location != nil {
				loc = fmt.Sprintf("%s:%d: ", e.Location.File, e.Location.Row)
			}
			parts = append(parts, loc+e.Code+": "+e.Message)
		}
		return strings.Join(parts, "; ")
	}
	return strings.Join(strings.Fields(err.Error()), " ")
}

func defines(mod *ast.Module, rule string) bool {
	for _, r := range mod.Rules {
		if r.Head.Name.String() == rule || (len(r.Head.Reference) > 0 && r.Head.Reference[0].Value.String() == rule) {
			return true
		}
	}
	return false
}

// Open reads, compiles and prepares the policy file, with the data document
// of the .json file beside it when there is one.
func Open(ctx context.Context, file string, opts ...Option) (*Policy, error) {
	src, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("opa: %w", err)
	}
	dataFile := strings.TrimSuffix(file, ".rego") + ".json"
	if b, err := os.ReadFile(dataFile); err == nil {
		var data map[string]any
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		if err := dec.Decode(&data); err != nil {
			return nil, fmt.Errorf("opa: data of %s: %s is not a JSON object: %w", file, dataFile, err)
		}
		opts = append([]Option{WithData(data)}, opts...)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("opa: data of %s: %w", file, err)
	}
	return New(ctx, file, src, opts...)
}

// Name is the policy's file name without .rego.
func (p *Policy) Name() string { return p.name }

// File is where the policy came from.
func (p *Policy) File() string { return p.file }

// Check evaluates the policy for input: nil allows; a denial is a
// PermissionDenied status, an evaluation failure an Internal one. The
// messages name the file, not the policy: the authorize elements prefix
// "policy <name>:".
func (p *Policy) Check(ctx context.Context, input ast.Value) error {
	rs, err := p.valid.Eval(ctx, rego.EvalParsedInput(input))
	if err != nil {
		return status.Errorf(codes.Internal, "evaluation failed (%s): %v", p.file, err)
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return p.denied(ctx, input)
	}
	switch v := rs[0].Expressions[0].Value.(type) {
	case bool:
		if v {
			return nil
		}
		return p.denied(ctx, input)
	default:
		return status.Errorf(codes.Internal, "evaluation failed (%s): %s is %v, not a boolean", p.file, Query, v)
	}
}

func (p *Policy) denied(ctx context.Context, input ast.Value) error {
	msg := fmt.Sprintf("no sufficient privileges (%s)", p.file)
	if p.reason != nil {
		if rs, err := p.reason.Eval(ctx, rego.EvalParsedInput(input)); err == nil && len(rs) > 0 && len(rs[0].Expressions) > 0 {
			msg += ": " + fmt.Sprint(rs[0].Expressions[0].Value)
		}
	}
	return status.Error(codes.PermissionDenied, msg)
}
