// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package fakevpp_test

import (
	"context"
	"errors"
	"io"
	"log"
	"slices"
	"testing"

	"go.fd.io/govpp/api"
	interfaces "go.fd.io/govpp/binapi/interface"
	"go.fd.io/govpp/binapi/interface_types"
	"go.uber.org/goleak"

	"github.com/nsmesh/nsmesh/sdk/dataplane/vpp/internal/fakevpp"
)

func TestMain(m *testing.M) {
	// govpp's mock adapter prints every reply with the standard logger.
	log.SetOutput(io.Discard)
	goleak.VerifyTestMain(m)
}

// model answers sw_interface_set_flags and dumps two interfaces; it counts
// what it carried out and the retvals it was given.
type model struct {
	applied int
	rvs     []int32
}

func (m *model) Dump(api.Message) []api.Message {
	return []api.Message{&interfaces.SwInterfaceDetails{SwIfIndex: 1}, &interfaces.SwInterfaceDetails{SwIfIndex: 2}}
}

func (m *model) Apply(_ api.Message, rv int32) api.Message {
	m.rvs = append(m.rvs, rv)
	if rv == 0 {
		m.applied++
	}
	return &interfaces.SwInterfaceSetFlagsReply{Retval: rv}
}

func setFlags(ctx context.Context, c interfaces.RPCService, idx uint32) error {
	_, err := c.SwInterfaceSetFlags(ctx, &interfaces.SwInterfaceSetFlags{SwIfIndex: interface_types.InterfaceIndex(idx)})
	return err
}

func TestFailOn(t *testing.T) {
	for _, tc := range []struct {
		name    string
		nth     int
		wantErr []bool
		wantRvs []int32
	}{
		{name: "none", wantErr: []bool{false, false, false}, wantRvs: []int32{0, 0, 0}},
		{name: "first", nth: 1, wantErr: []bool{true, false, false}, wantRvs: []int32{-7, 0, 0}},
		{name: "second, once", nth: 2, wantErr: []bool{false, true, false}, wantRvs: []int32{0, -7, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &model{}
			v := fakevpp.New(t, m)
			c := interfaces.NewServiceClient(v.Conn(t))
			ctx := context.Background()
			must(t, setFlags(ctx, c, 9)) // counted before FailOn: nth counts from the call
			v.Take()
			if tc.nth > 0 {
				v.FailOn("sw_interface_set_flags", tc.nth, -7)
			}
			m.rvs = nil
			for i, want := range tc.wantErr {
				err := setFlags(ctx, c, uint32(i))
				var apiErr api.VPPApiError
				if got := err != nil; got != want || got && (!errors.As(err, &apiErr) || apiErr != -7) {
					t.Errorf("call %d: error %v, want failure %t with retval -7", i+1, err, want)
				}
			}
			v.Lock()
			rvs := slices.Clone(m.rvs)
			v.Unlock()
			if !slices.Equal(rvs, tc.wantRvs) {
				t.Errorf("model saw retvals %v, want %v", rvs, tc.wantRvs)
			}
			reqs := v.Take()
			if got, want := fakevpp.Names(reqs), []string{"sw_interface_set_flags", "sw_interface_set_flags", "sw_interface_set_flags"}; !slices.Equal(got, want) {
				t.Errorf("recorded %v, want %v", got, want)
			}
			for i, r := range reqs {
				if m, ok := r.Msg.(*interfaces.SwInterfaceSetFlags); !ok || m.SwIfIndex != interface_types.InterfaceIndex(i) {
					t.Errorf("request %d decoded as %#v", i, r.Msg)
				}
			}
			if reqs := v.Take(); len(reqs) != 0 {
				t.Errorf("second Take returned %v", fakevpp.Names(reqs))
			}
		})
	}
}

func TestDump(t *testing.T) {
	v := fakevpp.New(t, &model{})
	s, err := interfaces.NewServiceClient(v.Conn(t)).SwInterfaceDump(context.Background(), &interfaces.SwInterfaceDump{SwIfIndex: ^interface_types.InterfaceIndex(0)})
	must(t, err)
	var got []interface_types.InterfaceIndex
	for {
		d, err := s.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		must(t, err)
		got = append(got, d.SwIfIndex)
	}
	if !slices.Equal(got, []interface_types.InterfaceIndex{1, 2}) {
		t.Errorf("details %v, want [1 2]", got)
	}
	if names := fakevpp.Names(v.Take()); !slices.Equal(names, []string{"sw_interface_dump"}) {
		t.Errorf("recorded %v, want [sw_interface_dump] (control pings are not recorded)", names)
	}
}

func TestRender(t *testing.T) {
	got := fakevpp.Render([]fakevpp.Request{
		{Name: "sw_interface_set_flags", Msg: &interfaces.SwInterfaceSetFlags{SwIfIndex: 3, Flags: interface_types.IF_STATUS_API_FLAG_ADMIN_UP}},
		{Name: "sw_interface_dump", Msg: &interfaces.SwInterfaceDump{}},
	})
	want := "sw_interface_set_flags {\"sw_if_index\":3,\"flags\":1}\n" +
		"sw_interface_dump {}\n"
	if got != want {
		t.Errorf("Render:\n%s\nwant:\n%s", got, want)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
