// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

// Package wiretest proves that the generated messages match the upstream
// wire format independently of the .proto files: tests build wire bytes by
// hand from the reference's field numbers and types, decode them with the
// generated code and compare with the expected Go value. A renumbered field
// lands in the unknown fields and a retyped one fails to decode or decodes to
// a different value, so neither can pass.
package wiretest

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// B is a message's wire bytes, built field by field. Each method returns the
// extended slice so a message reads as one expression.
type B []byte

// String appends a string field (wire type LEN).
func (b B) String(num protowire.Number, s string) B {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

// Message appends an embedded message field (wire type LEN).
func (b B) Message(num protowire.Number, m B) B {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, m)
}

// Varint appends a varint field: uint32, bool and enum values, and int32
// values sign-extended to 64 bits.
func (b B) Varint(num protowire.Number, v uint64) B {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

// Int32 appends an int32 field the way proto encodes it: negative values
// take ten bytes.
func (b B) Int32(num protowire.Number, v int32) B {
	return b.Varint(num, uint64(int64(v)))
}

// Bool appends a bool field.
func (b B) Bool(num protowire.Number, v bool) B {
	return b.Varint(num, protowire.EncodeBool(v))
}

// StringMapEntry appends one entry of a map<string,string> field: an
// embedded message with key = 1 and value = 2.
func (b B) StringMapEntry(num protowire.Number, k, v string) B {
	return b.Message(num, B{}.String(1, k).String(2, v))
}

// MessageMapEntry appends one entry of a map<string,Message> field.
func (b B) MessageMapEntry(num protowire.Number, k string, v B) B {
	return b.Message(num, B{}.String(1, k).Message(2, v))
}

// Timestamp appends a google.protobuf.Timestamp (seconds = 1, nanos = 2).
func (b B) Timestamp(num protowire.Number, seconds int64, nanos int32) B {
	return b.Message(num, B{}.Varint(1, uint64(seconds)).Int32(2, nanos))
}

// Case is one message: hand-built wire bytes and the value they must decode to.
type Case struct {
	Want proto.Message
	Wire B
}

// Check decodes c.Wire into a fresh message of c.Want's type and fails t
// unless it equals c.Want, carries no unknown field anywhere, and has every
// field of its type set (so the case exercises the whole message).
func Check(t *testing.T, c Case) {
	t.Helper()
	got := c.Want.ProtoReflect().New().Interface()
	if err := proto.Unmarshal(c.Wire, got); err != nil {
		t.Fatalf("unmarshal hand-built %s: %v", name(c.Want), err)
	}
	for _, p := range unknownFields(got.ProtoReflect(), string(name(c.Want))) {
		t.Errorf("%s: unknown fields (a field number or wire type differs from the reference)", p)
	}
	if !proto.Equal(got, c.Want) {
		t.Errorf("%s decoded to\n  %v\nwant\n  %v", name(c.Want), got, c.Want)
	}
	m := c.Want.ProtoReflect()
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		if fd := fields.Get(i); !m.Has(fd) {
			t.Errorf("%s: the case leaves field %s (%d) unset; set every field to a non-zero value", name(c.Want), fd.Name(), fd.Number())
		}
	}
}

func name(m proto.Message) protoreflect.FullName { return m.ProtoReflect().Descriptor().FullName() }

// unknownFields returns the paths of every message under m that holds
// unknown fields.
func unknownFields(m protoreflect.Message, path string) []string {
	var out []string
	if len(m.GetUnknown()) > 0 {
		out = append(out, path)
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		p := path + "." + string(fd.Name())
		switch {
		case fd.IsMap():
			if fd.MapValue().Message() != nil {
				v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
					out = append(out, unknownFields(mv.Message(), fmt.Sprintf("%s[%v]", p, k))...)
					return true
				})
			}
		case fd.IsList() && fd.Message() != nil:
			for i := range v.List().Len() {
				out = append(out, unknownFields(v.List().Get(i).Message(), fmt.Sprintf("%s[%d]", p, i))...)
			}
		case fd.Message() != nil:
			out = append(out, unknownFields(v.Message(), p)...)
		}
		return true
	})
	return out
}

// Field is one row of the reference's field tables. Type reads like the
// .proto: "string", "uint32", "repeated string", "map<string,string>",
// "connection.PathSegment" (a message or enum by full name).
type Field struct {
	Num  protowire.Number
	Name string
	Type string
}

// F is a Field; a function so that tables in other packages stay short
// without unkeyed struct literals.
func F(num protowire.Number, name, typ string) Field {
	return Field{Num: num, Name: name, Type: typ}
}

// CheckSchema fails t unless the message named msg has exactly the fields
// listed, with those numbers, names and types.
func CheckSchema(t *testing.T, msg protoreflect.FullName, want []Field) {
	t.Helper()
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(msg)
	if err != nil {
		t.Fatalf("message %s is not registered: %v", msg, err)
	}
	md, ok := d.(protoreflect.MessageDescriptor)
	if !ok {
		t.Fatalf("%s is a %T, not a message", msg, d)
	}
	var got []Field
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		got = append(got, Field{Num: fd.Number(), Name: string(fd.Name()), Type: TypeString(fd)})
	}
	less := func(a, b Field) int { return int(a.Num) - int(b.Num) }
	slices.SortFunc(got, less)
	want = slices.SortedFunc(slices.Values(want), less)
	if !slices.Equal(got, want) {
		t.Errorf("%s fields:\n  got  %s\n  want %s", msg, fieldList(got), fieldList(want))
	}
}

func fieldList(fs []Field) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = fmt.Sprintf("%d:%s %s", f.Num, f.Type, f.Name)
	}
	return strings.Join(parts, "; ")
}

// TypeString renders a field's type in the syntax of Field.Type.
func TypeString(fd protoreflect.FieldDescriptor) string {
	switch {
	case fd.IsMap():
		return "map<" + elemType(fd.MapKey()) + "," + elemType(fd.MapValue()) + ">"
	case fd.IsList():
		return "repeated " + elemType(fd)
	}
	return elemType(fd)
}

func elemType(fd protoreflect.FieldDescriptor) string {
	switch {
	case fd.Message() != nil:
		return string(fd.Message().FullName())
	case fd.Enum() != nil:
		return string(fd.Enum().FullName())
	}
	return fd.Kind().String()
}

// CheckEnum fails t unless the enum named enum has exactly the values given.
func CheckEnum(t *testing.T, enum protoreflect.FullName, want map[string]protoreflect.EnumNumber) {
	t.Helper()
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(enum)
	if err != nil {
		t.Fatalf("enum %s is not registered: %v", enum, err)
	}
	ed, ok := d.(protoreflect.EnumDescriptor)
	if !ok {
		t.Fatalf("%s is a %T, not an enum", enum, d)
	}
	got := map[string]protoreflect.EnumNumber{}
	for i := range ed.Values().Len() {
		v := ed.Values().Get(i)
		got[string(v.Name())] = v.Number()
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("enum %s values: got %v, want %v", enum, got, want)
	}
}

// Method is one row of a service table.
type Method struct {
	FullMethod   string // "/pkg.Service/Method", the gRPC path
	Input        protoreflect.FullName
	Output       protoreflect.FullName
	ClientStream bool
	ServerStream bool
}

// CheckService fails t unless the service named svc has exactly the methods
// given.
func CheckService(t *testing.T, svc protoreflect.FullName, want []Method) {
	t.Helper()
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(svc)
	if err != nil {
		t.Fatalf("service %s is not registered: %v", svc, err)
	}
	sd, ok := d.(protoreflect.ServiceDescriptor)
	if !ok {
		t.Fatalf("%s is a %T, not a service", svc, d)
	}
	var got []Method
	for i := range sd.Methods().Len() {
		md := sd.Methods().Get(i)
		got = append(got, Method{
			FullMethod:   "/" + string(sd.FullName()) + "/" + string(md.Name()),
			Input:        md.Input().FullName(),
			Output:       md.Output().FullName(),
			ClientStream: md.IsStreamingClient(),
			ServerStream: md.IsStreamingServer(),
		})
	}
	less := func(a, b Method) int { return strings.Compare(a.FullMethod, b.FullMethod) }
	slices.SortFunc(got, less)
	want = slices.SortedFunc(slices.Values(want), less)
	if !slices.Equal(got, want) {
		t.Errorf("service %s:\n  got  %+v\n  want %+v", svc, got, want)
	}
}

// CheckCoverage fails t unless every message declared in the registered
// file path (nested ones too, map entries excepted) is in tested, so a
// message added to a .proto without a wire case is caught.
func CheckCoverage(t *testing.T, path string, tested []protoreflect.FullName) {
	t.Helper()
	fd, err := protoregistry.GlobalFiles.FindFileByPath(path)
	if err != nil {
		t.Fatalf("file %q is not registered under that bare name: %v", path, err)
	}
	var all []protoreflect.FullName
	var walk func(protoreflect.MessageDescriptors)
	walk = func(ms protoreflect.MessageDescriptors) {
		for i := range ms.Len() {
			md := ms.Get(i)
			if md.IsMapEntry() {
				continue
			}
			all = append(all, md.FullName())
			walk(md.Messages())
		}
	}
	walk(fd.Messages())
	for _, n := range all {
		if !slices.Contains(tested, n) {
			t.Errorf("%s declares %s but no test case covers it", path, n)
		}
	}
}

// Large values make every varint longer than one byte, so a field whose
// reference type is uint32 cannot pass as bool, and values above MaxInt32
// tell uint32 from int32.
const (
	BigUint32 uint32 = math.MaxUint32 - 7
)
