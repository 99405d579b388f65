// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package command

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
)

func TestCheckPprofListenOn(t *testing.T) {
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{"localhost:6060", true},
		{":6060", true},
		{"[::1]:6060", true},
		{"localhost", false},
		{"", false},
	} {
		if err := CheckPprofListenOn(tc.addr); (err == nil) != tc.ok {
			t.Errorf("CheckPprofListenOn(%q) = %v, want ok=%v", tc.addr, err, tc.ok)
		}
	}
}

func TestServePprof(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	logger, hook := test.NewNullLogger()
	if err := ServePprof(ctx, "127.0.0.1:0", logger); err != nil {
		t.Fatal(err)
	}
	var url string
	for _, e := range hook.AllEntries() {
		if u, ok := e.Data["pprof"].(string); ok {
			url = u
		}
	}
	if url == "" {
		t.Fatal("no pprof URL logged")
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	resp, err := client.Get(url + "goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(body), "goroutine profile: total ") {
		t.Fatalf("goroutine profile: %s %.80q", resp.Status, body)
	}
	cancel()
	// The listener closes with ctx.
	addr := strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/debug/pprof/")
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			break
		}
		_ = c.Close()
		if time.Now().After(deadline) {
			t.Fatal("pprof still listening after ctx ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestServePprofPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := ServePprof(t.Context(), l.Addr().String(), logrus.New()); err == nil {
		t.Fatal("ServePprof on a port in use: no error")
	}
}
