package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rowgate/rowgate/internal/app"
	"github.com/rowgate/rowgate/internal/auth"
	"github.com/rowgate/rowgate/internal/pgtest"
	"github.com/rowgate/rowgate/internal/todo"
)

const (
	issuer   = "https://auth.faults.test"
	audience = "https://api.faults.test"
)

// stack is rowgate (built by internal/app, served by its Run on a real
// listener) in front of a test database, with a development key to sign
// its callers' tokens.
type stack struct {
	db     *pgtest.DB
	app    *app.App
	base   string
	key    *auth.DevKey
	logs   *lockedBuffer
	client *http.Client
	runErr chan error
}

// startStack serves rowgate on 127.0.0.1 for db, configured by cfg (the
// database URL, JWKS file, issuer and audience are filled in unless set),
// and stops it when t ends. It does not wait for readiness.
func startStack(t *testing.T, db *pgtest.DB, cfg app.Config) *stack {
	t.Helper()
	key, err := auth.LoadOrCreateDevKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return startStackWithKey(t, db, cfg, key)
}

// startStackWithKey is startStack trusting key, so that two rowgate
// processes can take the same tokens.
func startStackWithKey(t *testing.T, db *pgtest.DB, cfg app.Config, key *auth.DevKey) *stack {
	t.Helper()
	s := &stack{db: db, logs: &lockedBuffer{}, runErr: make(chan error, 1), key: key}
	var err error
	if cfg.DatabaseURL == "" {
		cfg.DatabaseURL = db.URL(pgtest.App)
	}
	if cfg.JWKSURL == "" && cfg.JWKSFile == "" {
		cfg.JWKSFile = s.key.JWKSPath()
	}
	cfg.Issuer, cfg.Audience = issuer, audience
	log := slog.New(slog.NewJSONHandler(s.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if s.app, err = app.New(context.Background(), cfg, log); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { s.runErr <- s.app.Run(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		<-s.runErr
		s.app.Close()
	})
	s.base = "http://" + ln.Addr().String()
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 64
	s.client = &http.Client{Transport: transport, Timeout: 30 * time.Second}
	t.Cleanup(transport.CloseIdleConnections)
	return s
}

// waitReady polls /readyz until it answers 200, and returns when that was.
func (s *stack) waitReady(t *testing.T, within time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if status, _ := s.get("/readyz", ""); status == 200 {
			return time.Now()
		}
		if time.Now().After(deadline) {
			status, body := s.get("/readyz", "")
			t.Fatalf("not ready after %v: %d %s\n%s", within, status, body, s.logs)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// token mints a token for user.
func (s *stack) token(t *testing.T, user string) string {
	t.Helper()
	tok, err := s.key.Mint(todo.Caller{ID: user, Email: user + "@example.com"}, issuer, audience, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// get sends a GET with an optional bearer token; transport errors give
// status 0.
func (s *stack) get(path, token string) (int, []byte) {
	return s.do("GET", path, token, "", nil)
}

func (s *stack) do(method, path, token, body string, header map[string]string) (int, []byte) {
	status, _, b := s.doFull(method, path, token, body, header)
	return status, b
}

func (s *stack) doFull(method, path, token, body string, header map[string]string) (int, http.Header, []byte) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.base+path, rd)
	if err != nil {
		return 0, nil, []byte(err.Error())
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := s.client.Do(req)
	if err != nil {
		return 0, nil, []byte(err.Error())
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, b
}

// metric returns the value of a sample on /metrics whose line starts with
// prefix (a name, with labels if any); -1 when absent.
func (s *stack) metric(t *testing.T, prefix string) float64 {
	t.Helper()
	_, body := s.get("/metrics", "")
	for _, line := range strings.Split(string(body), "\n") {
		if rest, ok := strings.CutPrefix(line, prefix+" "); ok {
			var v float64
			fmt.Sscan(rest, &v)
			return v
		}
	}
	return -1
}

// problemCode returns a problem body's code.
func problemCode(body []byte) string {
	var p struct {
		Code string `json:"code"`
	}
	json.Unmarshal(body, &p)
	return p.Code
}

// lockedBuffer collects log output from several goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func itoa(n int) string { return fmt.Sprint(n) }

func callerOf(user string) todo.Caller { return todo.Caller{ID: user, Email: user + "@example.com"} }
