package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// runHealthcheck asks the local server's /readyz whether it is ready, for a
// container HEALTHCHECK in an image with no shell and no curl. It prints
// one line and returns nil on 200; anything else, including no answer
// within --timeout, exits 1.
func runHealthcheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("healthcheck", stderr)
	// A LISTEN_ADDR it cannot read matters only when --url is not given.
	target, envErr := defaultHealthTarget(os.Getenv("LISTEN_ADDR"))
	rawURL := fs.String("url", target.url, "URL to GET; 200 means healthy (default from LISTEN_ADDR's port)")
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this long (keep it under the HEALTHCHECK timeout)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case *rawURL != target.url:
		target = healthTarget{url: *rawURL}
	case envErr != nil:
		return exitError{code: 1, err: envErr}
	}
	status, err := probe(ctx, target, *timeout)
	if err != nil {
		return exitError{code: 1, err: err}
	}
	if status != http.StatusOK {
		return exitError{code: 1, err: fmt.Errorf("%s answered %d %s", target.url, status, http.StatusText(status))}
	}
	fmt.Fprintf(stdout, "healthy: %s answered 200\n", target.url)
	return nil
}

// healthTarget is where to probe: a URL and, for a unix-socket listener,
// the socket to reach it through.
type healthTarget struct {
	url, socket string
}

// defaultHealthTarget turns serve's LISTEN_ADDR into the /readyz to probe:
// ":9090" or "0.0.0.0:9090" become http://127.0.0.1:9090/readyz, "[::]:…"
// the IPv6 loopback, a specific host stays, "unix:/path" goes through the
// socket. Empty means serve's default, :8080.
func defaultHealthTarget(listen string) (healthTarget, error) {
	if socket, ok := strings.CutPrefix(listen, "unix:"); ok {
		return healthTarget{url: "http://unix/readyz", socket: socket}, nil
	}
	if listen == "" {
		listen = ":8080"
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return healthTarget{}, fmt.Errorf("LISTEN_ADDR %q: %v", listen, err)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return healthTarget{url: "http://" + net.JoinHostPort(host, port) + "/readyz"}, nil
}

// probe GETs t.url without proxies or redirects and returns the status.
func probe(ctx context.Context, t healthTarget, timeout time.Duration) (int, error) {
	transport := &http.Transport{DisableKeepAlives: true}
	if t.socket != "" {
		transport.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", t.socket)
		}
	}
	client := &http.Client{
		Transport:     transport,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			err = ue.Err // drop the `Get "…":` prefix; the line names the URL
		}
		return 0, fmt.Errorf("%s: %w", t.url, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	return resp.StatusCode, nil
}
