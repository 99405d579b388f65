// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package main

import (
	"context"
	"fmt"
	"maps"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nsmesh/nsmesh/apis/registry"
	"github.com/nsmesh/nsmesh/sdk/sandbox"
	"github.com/nsmesh/nsmesh/sdk/tools/command/commandtest"
)

// connectedLine is the log line of an established connection; its fields
// name the connection, its addresses and its interface.
var connectedLine = regexp.MustCompile(`msg="connected to red".*`)

func waitFor(t *testing.T, cmd *exec.Cmd, out *commandtest.Output, within time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(within); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("no %s within %s; output:\n%s", what, within, out)
		}
	}
}

// field returns the value of key=value in a logfmt line.
func field(line, key string) string {
	m := regexp.MustCompile(`\b` + key + `=("[^"]*"|\S+)`).FindStringSubmatch(line)
	if m == nil {
		return ""
	}
	return strings.Trim(m[1], `"`)
}

// A cmd-nsc killed with SIGKILL (no Close) and started again with the same
// NSM_NAME and NSM_NETWORK_SERVICES asks for <name>-0 again knowing only its
// own path segment. The mesh (an in-process sandbox: nsmgr, forwarder with
// a fake data plane, endpoint) takes it for a refresh of the connection it
// holds: the forwarder keeps the one pair it programmed (never
// unprogrammed), every hop holds one connection, the client gets the same
// addresses and interface; SIGTERM then closes it everywhere.
func TestSIGKILLedClientReusesItsConnection(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d := sandbox.New(ctx, t, sandbox.WithMTLS())
	node := d.Nodes[0]
	if err := node.RegisterService(ctx, &registry.NetworkService{Name: "red"}); err != nil {
		t.Fatal(err)
	}
	nse, err := node.NewEndpoint(ctx, &registry.NetworkServiceEndpoint{Name: "nse", NetworkServiceNames: []string{"red"}})
	if err != nil {
		t.Fatal(err)
	}
	svid, err := d.WriteSVIDDir("web")
	if err != nil {
		t.Fatal(err)
	}
	env := []string{
		"NSM_NAME=web", "NSM_NETWORK_SERVICES=kernel://red/nsm-1",
		"NSM_CONNECT_TO=" + node.NSMgr.UnixURL().String(), "NSM_SVID_DIR=" + svid,
		// The fake data plane makes no interface to ping.
		"NSM_LIVENESS_CHECK_ENABLED=false",
	}
	fwd := node.Forwarders[0]
	held := func() string {
		return fmt.Sprintf("nsmgr %d, forwarder %d, endpoint %d", node.NSMgr.Current.Begin.Len(), fwd.Current.Begin.Len(), nse.Current.Begin.Len())
	}

	first, out1 := child(env...)
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, first, out1, 20*time.Second, "connection", func() bool { return connectedLine.MatchString(out1.String()) })
	pairs := fwd.Dataplane.Programmed()
	if len(pairs) != 1 {
		t.Fatalf("programmed %v", slices.Collect(maps.Keys(pairs)))
	}
	_ = first.Process.Kill()
	_ = first.Wait()
	programs, _ := fwd.Dataplane.Counts()

	second, out2 := child(env...)
	if err := second.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, second, out2, 20*time.Second, "connection", func() bool { return connectedLine.MatchString(out2.String()) })
	was, is := connectedLine.FindString(out1.String()), connectedLine.FindString(out2.String())
	t.Logf("request took %s for the first process, %s for the restarted one", field(was, "duration"), field(is, "duration"))
	for _, k := range []string{"conn", "endpoint", "src", "dst", "interface", "path"} {
		if field(was, k) != field(is, k) || field(is, k) == "" {
			t.Errorf("%s: %q, after the restart %q", k, field(was, k), field(is, k))
		}
	}
	now := fwd.Dataplane.Programmed()
	p, u := fwd.Dataplane.Counts()
	if !slices.Equal(slices.Sorted(maps.Keys(now)), slices.Sorted(maps.Keys(pairs))) || u != 0 || p != programs+1 {
		t.Errorf("the forwarder programmed %v (before the restart %v); %d programs, %d unprograms (before %d, 0)",
			slices.Collect(maps.Keys(now)), slices.Collect(maps.Keys(pairs)), p, u, programs)
	}
	if h := held(); h != "nsmgr 1, forwarder 1, endpoint 1" || nse.Counter.Closes() != 0 {
		t.Errorf("after the restart the hops hold: %s; the endpoint saw %d closes", h, nse.Counter.Closes())
	}

	if err := second.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := second.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v; output:\n%s", err, out2)
	}
	if h := held(); h != "nsmgr 0, forwarder 0, endpoint 0" || len(fwd.Dataplane.Programmed()) != 0 || nse.Counter.Closes() != 1 {
		t.Errorf("after the client stopped the hops hold: %s; programmed %d; endpoint closes %d", h, len(fwd.Dataplane.Programmed()), nse.Counter.Closes())
	}
}
