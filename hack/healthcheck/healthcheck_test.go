// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 The nsmesh Authors

package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestPickURL(t *testing.T) {
	for _, tc := range []struct {
		name, arg, listenOn, def, want, err string
	}{
		{name: "argument wins", arg: "tcp://:1", listenOn: "unix:///a", def: "tcp://:2", want: "tcp://:1"},
		{name: "first of NSM_LISTEN_ON", listenOn: " unix:///a.sock , tcp://:5001", def: "tcp://:2", want: "unix:///a.sock"},
		{name: "empty entries skipped", listenOn: ",,tcp://:5001", want: "tcp://:5001"},
		{name: "default", def: "tcp://:5002", want: "tcp://:5002"},
		{name: "nothing", err: "no URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := pickURL(tc.arg, tc.listenOn, tc.def)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestParseTarget(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want target
		err  string
	}{
		{in: "unix:///var/lib/networkservicemesh/nsm.io.sock", want: target{"unix", "/var/lib/networkservicemesh/nsm.io.sock"}},
		{in: "tcp://:5002", want: target{"tcp", "127.0.0.1:5002"}},
		{in: "tcp://0.0.0.0:5001", want: target{"tcp", "127.0.0.1:5001"}},
		{in: "tcp://[::]:5001", want: target{"tcp", "[::1]:5001"}},
		{in: "tcp://10.0.0.1:5001", want: target{"tcp", "10.0.0.1:5001"}},
		{in: "tcp://registry:5002", want: target{"tcp", "registry:5002"}},
		{in: "tcp://registry", err: "want tcp://host:port"},
		{in: "unix://host/x.sock", err: "want unix:///absolute/path"},
		{in: "unix://", err: "want unix:///absolute/path"},
		{in: "http://x:1", err: "scheme must be tcp or unix"},
		{in: "://", err: "bad URL"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseTarget(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestMessages(t *testing.T) {
	if got := encodeRequest(""); len(got) != 0 {
		t.Fatalf("empty service encodes to %x, want nothing", got)
	}
	if got, want := encodeRequest("ab"), []byte{0x0a, 2, 'a', 'b'}; !bytes.Equal(got, want) {
		t.Fatalf("encodeRequest(ab) = %x, want %x", got, want)
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want servingStatus
		err  string
	}{
		{name: "empty is UNKNOWN", in: nil, want: statusUnknown},
		{name: "serving", in: []byte{0x08, 1}, want: statusServing},
		{name: "not serving", in: []byte{0x08, 2}, want: statusNotServing},
		{name: "unknown fields skipped", in: []byte{0x12, 1, 'x', 0x19, 0, 0, 0, 0, 0, 0, 0, 0, 0x25, 0, 0, 0, 0, 0x08, 1}, want: statusServing},
		{name: "last value wins", in: []byte{0x08, 2, 0x08, 1}, want: statusServing},
		{name: "truncated varint", in: []byte{0x08, 0x80}, err: "truncated varint"},
		{name: "truncated bytes", in: []byte{0x12, 5, 'x'}, err: "truncated bytes"},
		{name: "field zero", in: []byte{0x00, 1}, err: "field number 0"},
		{name: "group wire type", in: []byte{0x0b}, err: "wire type 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeResponse(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestFrame(t *testing.T) {
	msg := []byte{0x08, 1}
	got, err := unframe(frame(msg))
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("unframe(frame(%x)) = %x, %v", msg, got, err)
	}
	for _, tc := range []struct {
		name string
		in   []byte
		err  string
	}{
		{name: "short", in: []byte{0, 0, 0}, err: "no gRPC message"},
		{name: "compressed", in: []byte{1, 0, 0, 0, 0}, err: "compressed"},
		{name: "length mismatch", in: []byte{0, 0, 0, 0, 3, 8}, err: "message length 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := unframe(tc.in); err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err = %v, want %q", err, tc.err)
			}
		})
	}
}

func FuzzDecodeResponse(f *testing.F) {
	f.Add([]byte{0x08, 1})
	f.Add([]byte{0x12, 1, 'x', 0x08, 2})
	f.Add(frame([]byte{0x08, 1}))
	f.Fuzz(func(t *testing.T, b []byte) {
		// Neither may panic on any input; a frame of a decodable message
		// must give back the message.
		_, _ = unframe(b)
		if _, err := decodeResponse(b); err == nil {
			m, err := unframe(frame(b))
			if err != nil || !bytes.Equal(m, b) {
				t.Fatalf("frame round trip of %x: %x, %v", b, m, err)
			}
		}
	})
}

// fakeHealth is a stdlib HTTP/2 server that answers Health/Check the way a
// gRPC server does, with a chosen status, so that the client's handling of
// each answer is exercised without a gRPC dependency.
func fakeHealth(t *testing.T, answer func(w http.ResponseWriter, service []byte)) target {
	t.Helper()
	return fakeHealthTLS(t, answer, nil)
}

// fakeHealthTLS is fakeHealth speaking TLS with conf when it is not nil.
func fakeHealthTLS(t *testing.T, answer func(w http.ResponseWriter, service []byte), conf *tls.Config) target {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "h.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	p.SetHTTP2(true)
	srv := &http.Server{Protocols: p, TLSConfig: conf, ErrorLog: log.New(io.Discard, "", 0), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Content-Type") != "application/grpc" || r.URL.Path != "/grpc.health.v1.Health/Check" {
			http.Error(w, "not a health call", http.StatusBadRequest)
			return
		}
		var body bytes.Buffer
		_, _ = body.ReadFrom(r.Body)
		m, err := unframe(body.Bytes())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		answer(w, m)
	})}
	go func() {
		if conf != nil {
			_ = srv.ServeTLS(l, "", "")
		} else {
			_ = srv.Serve(l)
		}
	}()
	t.Cleanup(func() { _ = srv.Close() })
	return target{network: "unix", address: sock}
}

func answerStatus(status servingStatus) func(http.ResponseWriter, []byte) {
	return func(w http.ResponseWriter, _ []byte) {
		w.Header().Set("Content-Type", "application/grpc")
		w.Header().Set("Trailer", "Grpc-Status")
		_, _ = w.Write(frame([]byte{0x08, byte(status)}))
		w.Header().Set("Grpc-Status", "0")
	}
}

func TestCheckAnswers(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer func(http.ResponseWriter, []byte)
		want   servingStatus
		err    string
	}{
		{name: "serving", answer: answerStatus(statusServing), want: statusServing},
		{name: "not serving", answer: answerStatus(statusNotServing), want: statusNotServing},
		{name: "trailers-only error", answer: func(w http.ResponseWriter, _ []byte) {
			w.Header().Set("Content-Type", "application/grpc")
			w.Header().Set("Grpc-Status", "5")
			w.Header().Set("Grpc-Message", "unknown%20service")
		}, err: "gRPC status 5: unknown service"},
		{name: "no status", answer: func(w http.ResponseWriter, _ []byte) {
			_, _ = w.Write(frame([]byte{0x08, 1}))
		}, err: "without grpc-status"},
		{name: "HTTP error", answer: func(w http.ResponseWriter, _ []byte) {
			http.Error(w, "no", http.StatusNotFound)
		}, err: "HTTP status 404"},
		{name: "service sent", answer: func(w http.ResponseWriter, req []byte) {
			if !bytes.Equal(req, encodeRequest("svc")) {
				http.Error(w, "wrong request", http.StatusTeapot)
				return
			}
			answerStatus(statusServing)(w, req)
		}, want: statusServing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			service := ""
			if tc.name == "service sent" {
				service = "svc"
			}
			got, err := check(ctx, fakeHealth(t, tc.answer), service, nil)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestRunExitReasons(t *testing.T) {
	tg := fakeHealth(t, answerStatus(statusNotServing))
	env := func(k string) string {
		if k == "NSM_LISTEN_ON" {
			return "unix://" + tg.address + ",tcp://:1"
		}
		return ""
	}
	if err := run(nil, env); err == nil || !strings.Contains(err.Error(), "NOT_SERVING") {
		t.Fatalf("run against NOT_SERVING = %v, want an error naming the status", err)
	}
	noEnv := func(string) string { return "" }
	if err := run([]string{"-timeout", "200ms", "unix://" + filepath.Join(t.TempDir(), "none.sock")}, noEnv); err == nil {
		t.Fatal("run against a missing socket succeeded")
	}
	if err := run([]string{"-bogus"}, noEnv); err == nil || !strings.Contains(err.Error(), "usage") {
		t.Fatalf("run with a bad flag = %v, want usage", err)
	}
	if err := run([]string{"a", "b"}, noEnv); err == nil {
		t.Fatal("two URLs accepted")
	}
}

// TestRealServer probes cmd-registry, a real grpc-go server with the health
// service the images use, on a unix socket and on TCP, in plaintext and with
// mutual TLS (SVIDs from nsmctl devca), then after it stopped.
func TestRealServer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds cmd-registry and cmd-nsmctl")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "cmd-registry", "go.mod")); err != nil {
		// go test hack/healthcheck/*.go runs in the package directory
		t.Skipf("cmd-registry not found from %s: %v", root, err)
	}
	dir := t.TempDir()
	build := exec.Command("go", "build", "-o", dir+"/", "./cmd-registry", "./cmd-nsmctl")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ids := filepath.Join(dir, "ids")
	devca := exec.Command(filepath.Join(dir, "cmd-nsmctl"), "devca", "init", "--dir", ids, "--components", "registry,nsmgr-1")
	if out, err := devca.CombinedOutput(); err != nil {
		t.Fatalf("nsmctl devca init: %v\n%s", err, out)
	}
	other := filepath.Join(dir, "other")
	devca = exec.Command(filepath.Join(dir, "cmd-nsmctl"), "devca", "init", "--dir", other, "--components", "nsmgr-1")
	if out, err := devca.CombinedOutput(); err != nil {
		t.Fatalf("nsmctl devca init (second trust domain): %v\n%s", err, out)
	}

	for _, tc := range []struct {
		name      string
		server    string // identity setting of the registry
		probe     map[string]string
		probeFail map[string]string // a probe that must be refused
	}{
		{
			name: "plaintext", server: "NSM_INSECURE=true",
			probe:     map[string]string{"NSM_INSECURE": "true"},
			probeFail: map[string]string{"NSM_SVID_DIR": filepath.Join(ids, "nsmgr-1")},
		},
		{
			name: "mutual TLS", server: "NSM_SVID_DIR=" + filepath.Join(ids, "registry"),
			probe:     map[string]string{"NSM_SVID_DIR": filepath.Join(ids, "nsmgr-1")},
			probeFail: map[string]string{"NSM_SVID_DIR": filepath.Join(other, "nsmgr-1")},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			probeRegistry(t, filepath.Join(dir, "cmd-registry"), tc.server, tc.probe, tc.probeFail)
		})
	}
}

func probeRegistry(t *testing.T, bin, identity string, probeEnv, failEnv map[string]string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	sock := "unix://" + filepath.Join(t.TempDir(), "registry.sock")
	tcp := fmt.Sprintf("tcp://:%d", port)

	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "NSM_LISTEN_ON="+sock+","+tcp, identity)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})

	env := func(k string) string { return probeEnv[k] }
	deadline := time.Now().Add(10 * time.Second)
	for {
		err = run([]string{sock}, env)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("unix probe: %v\nregistry log:\n%s", err, logs.String())
	}
	if err := run([]string{tcp}, env); err != nil {
		t.Fatalf("tcp probe: %v", err)
	}
	if err := run([]string{"-service", "registry.NetworkServiceEndpointRegistry", tcp}, env); err != nil {
		t.Fatalf("probe of a registered service: %v", err)
	}
	if err := run([]string{"-service", "no.such.Service", tcp}, env); err == nil || !strings.Contains(err.Error(), "status 5") {
		t.Fatalf("probe of an unknown service = %v, want gRPC status 5 (NotFound)", err)
	}
	if err := run([]string{"-timeout", "2s", tcp}, func(k string) string { return failEnv[k] }); err == nil {
		t.Fatalf("probe with %v succeeded", failEnv)
	}

	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("registry did not stop on SIGTERM")
	}
	if err := run([]string{"-timeout", "500ms", tcp}, env); err == nil {
		t.Fatal("probe of a stopped registry succeeded")
	}
}
