package tests

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rowgate/rowgate/internal/httpapi"
)

// hostileOptions are the server's connection bounds for these tests: the
// real ones, shortened so the test takes seconds.
var hostileOptions = httpapi.HTTPServerOptions{
	ReadHeaderTimeout: time.Second,
	ReadTimeout:       2 * time.Second,
	WriteTimeout:      5 * time.Second,
	IdleTimeout:       2 * time.Second,
}

// TestAPIHostileConnections serves the API through httpapi.NewHTTPServer
// on a real TCP port and sends it what a hostile client would: headers a
// byte a second on many connections, oversized headers, bodies one byte
// over the limit. Each is closed or refused on time, nothing is written,
// and afterwards the process's file descriptors and goroutines are back to
// what they were before. It does not run in parallel: it counts the
// process's descriptors and goroutines, which parallel tests would move.
func TestAPIHostileConnections(t *testing.T) {
	s := newAPIServer(t, func(c *apiConfig) { c.http = &hostileOptions })
	seedAPI(t, s)
	addr := strings.TrimPrefix(s.URL, "http://")
	fds, goroutines := openFDs(t), runtime.NumGoroutine()

	t.Run("Slowloris", func(t *testing.T) { checkSlowloris(t, addr, 50) })
	t.Run("OversizedHeaders", func(t *testing.T) { checkOversizedHeaders(t, addr) })
	t.Run("BodyLimit", func(t *testing.T) { checkBodyLimit(t, s) })

	s.client.CloseIdleConnections()
	start := time.Now()
	deadline := start.Add(15 * time.Second)
	for {
		nowFDs, nowG := openFDs(t), runtime.NumGoroutine()
		if nowFDs <= fds && nowG <= goroutines {
			t.Logf("back to %d open files and %d goroutines (were %d and %d) after %v", nowFDs, nowG, fds, goroutines, time.Since(start))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the hostile clients: %d open files (was %d), %d goroutines (was %d)", nowFDs, fds, nowG, goroutines)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkSlowloris opens n connections that each send a request's headers a
// byte a second, and checks the server closes every one within its
// ReadHeaderTimeout (plus slack for a loaded machine), where without the
// timeout they would stay open for as long as the client keeps sending.
func checkSlowloris(t *testing.T, addr string, n int) {
	bound := hostileOptions.ReadHeaderTimeout + 5*time.Second
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs <- slowloris(addr, i, bound) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// slowloris is one such client. It returns nil once the server has closed
// the connection within bound of its opening.
func slowloris(addr string, i int, bound time.Duration) error {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	start := time.Now()
	if _, err := fmt.Fprintf(conn, "GET /v1/todos HTTP/1.1\r\nHost: %s\r\nX-Slow-%d: ", addr, i); err != nil {
		return err
	}
	buf := make([]byte, 1)
	for time.Since(start) < bound {
		if _, err := conn.Write([]byte("a")); err != nil {
			return nil // closed by the server: writing fails
		}
		conn.SetReadDeadline(time.Now().Add(time.Second))
		_, err := conn.Read(buf)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			continue // still open: one more byte
		}
		if err != nil {
			return nil // EOF or reset: closed by the server
		}
		return fmt.Errorf("slowloris %d: the server answered an incomplete request", i)
	}
	return fmt.Errorf("slowloris %d: still open after %v", i, bound)
}

// checkOversizedHeaders: headers over MaxHeaderBytes are answered 431 by
// net/http, and headers a little under it, with a token as large as the
// verifier reads, are not.
func checkOversizedHeaders(t *testing.T, addr string) {
	limit := httpapi.DefaultMaxHeaderBytes
	for _, tc := range []struct {
		size int
		want int
	}{
		{limit + 4096 + 1, http.StatusRequestHeaderFieldsTooLarge}, // net/http allows 4 KiB of slack
		{4 * limit, http.StatusRequestHeaderFieldsTooLarge},
		{limit - 512, http.StatusUnauthorized}, // within the limit: on to authentication
	} {
		status, err := rawRequest(addr, "GET /v1/todos HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("a", tc.size)+"\r\n\r\n")
		if err != nil || status != tc.want {
			t.Errorf("%d bytes of headers: %d %v, want %d", tc.size, status, err, tc.want)
		}
	}
}

// rawRequest writes req on a new connection and reads the status line of
// the answer.
func rawRequest(addr, req string) (int, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	go io.WriteString(conn, req) // the server may answer before it has read it all
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// checkBodyLimit: a body one byte over httpapi.MaxBodyBytes is answered 413
// problem+json, declared by Content-Length or sent chunked, and writes
// nothing; a body of exactly the limit is read (and refused for what it
// says: its title is too long).
func checkBodyLimit(t *testing.T, s *apiServer) {
	before := s.snapshot(t)
	title := func(n int) string {
		const pre, post = `{"title":"`, `"}`
		return pre + strings.Repeat("a", n-len(pre)-len(post)) + post
	}
	for _, tc := range []struct {
		name    string
		body    string
		chunked bool
		want    int
	}{
		{"OverByContentLength", title(httpapi.MaxBodyBytes + 1), false, http.StatusRequestEntityTooLarge},
		{"OverChunked", title(httpapi.MaxBodyBytes + 1), true, http.StatusRequestEntityTooLarge},
		{"AtLimitByContentLength", title(httpapi.MaxBodyBytes), false, http.StatusUnprocessableEntity},
		{"AtLimitChunked", title(httpapi.MaxBodyBytes), true, http.StatusUnprocessableEntity},
	} {
		r := apiRequest{method: "POST", path: "/v1/todos", as: alice, body: tc.body}
		req, err := s.newRequest(t, r)
		if err != nil {
			t.Fatal(err)
		}
		if tc.chunked {
			req.Body, req.ContentLength = io.NopCloser(strings.NewReader(tc.body)), -1
			req.TransferEncoding = []string{"chunked"}
		}
		resp, err := s.send(t, req, r)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if resp.Status != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, resp.Status, clipBody(resp.Body), tc.want)
		} else if tc.want == 413 && resp.problem(t).Code != "body_too_large" {
			t.Errorf("%s: problem %s", tc.name, clipBody(resp.Body))
		}
	}
	if s.snapshot(t) != before {
		t.Error("a refused body changed the database")
	}
}

// openFDs counts this process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(entries)
}
