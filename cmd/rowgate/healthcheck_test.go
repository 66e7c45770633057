package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
)

// readyServer answers /readyz with status and everything else with 404.
func readyServer(status int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
	})
}

// TestHealthcheck: exit 0 and one line on stdout for a 200 from /readyz;
// exit 1 and one line on stderr for anything else, including a redirect
// and a port where nothing listens.
func TestHealthcheck(t *testing.T) {
	t.Parallel()
	ready := httptest.NewServer(readyServer(http.StatusOK))
	t.Cleanup(ready.Close)
	draining := httptest.NewServer(readyServer(http.StatusServiceUnavailable))
	t.Cleanup(draining.Close)
	redirect := httptest.NewServer(http.RedirectHandler(ready.URL+"/readyz", http.StatusFound))
	t.Cleanup(redirect.Close)
	closed := httptest.NewServer(readyServer(http.StatusOK))
	closed.Close()
	hangs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	t.Cleanup(hangs.Close)

	tests := []struct {
		name     string
		url      string
		timeout  string
		wantCode int
		wantLine string
	}{
		{"Success", ready.URL + "/readyz", "5s", 0, "healthy: " + ready.URL + "/readyz answered 200"},
		{"ErrNotReady", draining.URL + "/readyz", "5s", 1, "answered 503 Service Unavailable"},
		{"ErrNotFound", ready.URL + "/nope", "5s", 1, "answered 404 Not Found"},
		{"ErrRedirect", redirect.URL + "/readyz", "5s", 1, "answered 302 Found"},
		{"ErrNothingListens", closed.URL + "/readyz", "5s", 1, "connection refused"},
		{"ErrTimeout", hangs.URL + "/readyz", "50ms", 1, "Client.Timeout exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), []string{"healthcheck", "--url", tt.url, "--timeout", tt.timeout}, &stdout, &stderr)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stdout %q, stderr %q", code, tt.wantCode, stdout.String(), stderr.String())
			}
			out := stdout.String() + stderr.String()
			if strings.Count(out, "\n") != 1 || !strings.Contains(out, tt.wantLine) {
				t.Errorf("output %q is not one line containing %q", out, tt.wantLine)
			}
		})
	}
}

// TestHealthcheckUnixSocket: with LISTEN_ADDR=unix:/path, the default
// probe goes through the socket serve listens on.
func TestHealthcheckUnixSocket(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "rowgate.sock")
	ln, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(readyServer(http.StatusOK))
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	t.Setenv("LISTEN_ADDR", "unix:"+socket)
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"healthcheck"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
}

// TestHealthcheckBadListenAddr: a LISTEN_ADDR the probe cannot read is
// unhealthy (exit 1, not the 2 Docker reserves), unless --url says where.
func TestHealthcheckBadListenAddr(t *testing.T) {
	ready := httptest.NewServer(readyServer(http.StatusOK))
	t.Cleanup(ready.Close)
	t.Setenv("LISTEN_ADDR", "8080")
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"healthcheck"}, new(bytes.Buffer), &stderr); code != 1 || !strings.Contains(stderr.String(), "LISTEN_ADDR") {
		t.Errorf("exit %d, %q; want 1 naming LISTEN_ADDR", code, stderr.String())
	}
	if code := run(context.Background(), []string{"healthcheck", "--url", ready.URL + "/readyz"}, new(bytes.Buffer), &stderr); code != 0 {
		t.Errorf("with --url: exit %d: %s", code, stderr.String())
	}
}

// TestDefaultHealthTarget: LISTEN_ADDR as serve reads it becomes the URL
// a process in the same container can reach.
func TestDefaultHealthTarget(t *testing.T) {
	t.Parallel()
	tests := []struct{ listen, want string }{
		{"", "http://127.0.0.1:8080/readyz"},
		{":9090", "http://127.0.0.1:9090/readyz"},
		{"0.0.0.0:9090", "http://127.0.0.1:9090/readyz"},
		{"[::]:9090", "http://[::1]:9090/readyz"},
		{"127.0.0.2:80", "http://127.0.0.2:80/readyz"},
		{"unix:/run/rowgate.sock", "http://unix/readyz"},
	}
	for _, tt := range tests {
		got, err := defaultHealthTarget(tt.listen)
		if err != nil || got.url != tt.want {
			t.Errorf("defaultHealthTarget(%q) = %q, %v; want %q", tt.listen, got.url, err, tt.want)
		}
	}
	if _, err := defaultHealthTarget("8080"); err == nil {
		t.Error(`defaultHealthTarget("8080") succeeded; serve would refuse that address too`)
	}
}
