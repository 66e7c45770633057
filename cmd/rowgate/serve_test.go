package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rowgate/rowgate/internal/auth"
	"github.com/rowgate/rowgate/internal/pgtest"
)

const (
	serveIssuer   = "https://auth.serve.test"
	serveAudience = "https://api.serve.test"
)

// serveFlags are the flags of a `rowgate serve` that validates, with
// databaseURL; later flags override earlier ones.
func serveFlags(databaseURL, jwksFile string, more ...string) []string {
	return append([]string{"serve",
		"--database-url", databaseURL, "--jwks-file", jwksFile, "--jwks-url", "",
		"--issuer", serveIssuer, "--audience", serveAudience, "--listen", "127.0.0.1:0",
		"--log-format", "json", "--log-level", "info",
	}, more...)
}

// devJWKS makes a development key in a temporary folder and returns the
// folder and its public JWKS file.
func devJWKS(t *testing.T) (dir, jwks string) {
	t.Helper()
	dir = t.TempDir()
	key, err := auth.LoadOrCreateDevKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	return dir, key.JWKSPath()
}

// TestServeRefusesBypassingRoles runs `rowgate serve` as every kind of role
// that could bypass row level security: each is refused at start-up with a
// message that says why (exit 1), and the database door never opens, so
// not one request is served from the database as that role.
func TestServeRefusesBypassingRoles(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	_, jwks := devJWKS(t)
	suffix := strings.TrimPrefix(db.Name, "t_")
	role := func(kind string) string { return "rg_" + kind + "_" + suffix }
	admin := func(sql string) { db.Exec(t, sql) }
	loginRole := func(name string) string {
		db.CreateRole(t, name)
		t.Cleanup(func() { dropRole(t, db, name) })
		return name
	}
	groupRole := func(name, attrs string) string {
		admin("create role " + name + " nologin " + attrs)
		t.Cleanup(func() { dropRole(t, db, name) })
		return name
	}
	bypasser := loginRole(role("bypass"))
	admin("alter role " + bypasser + " bypassrls")
	bypassGroup := groupRole(role("bypassgroup"), "bypassrls")
	viaGroup := loginRole(role("viagroup"))
	admin("grant " + bypassGroup + " to " + viaGroup)
	viaOwner := loginRole(role("viaowner"))
	admin("grant " + pgtest.Owner + " to " + viaOwner)
	viaSuper := loginRole(role("viasuper"))
	admin("grant " + db.Superuser() + " to " + viaSuper)

	tests := []struct {
		name, url, want string
	}{
		{"TableOwner", db.URL(pgtest.Owner), "role " + pgtest.Owner + " owns "},
		{"Superuser", db.URL(db.Superuser()), "role " + db.Superuser() + " is a superuser"},
		{"BypassRLS", db.URL(bypasser), "role " + bypasser + " has BYPASSRLS"},
		{"MemberOfBypassRLSRole", db.URL(viaGroup), "role " + bypassGroup + " has BYPASSRLS"},
		{"MemberOfTableOwner", db.URL(viaOwner), "role " + pgtest.Owner + " owns "},
		{"MemberOfSuperuser", db.URL(viaSuper), "role " + db.Superuser() + " is a superuser"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, stderr := runServeBriefly(t, serveFlags(tt.url, jwks))
			if code != 1 || !strings.Contains(stderr, "refusing to serve") || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d; stderr:\n%s\nwant exit 1 and %q", code, stderr, tt.want)
			}
			if strings.Contains(stderr, "database ready") {
				t.Error("it reported the database ready before refusing")
			}
		})
	}
	t.Run("RLSDisabledOnATable", func(t *testing.T) {
		t.Parallel()
		off := pgtest.NewDB(t)
		off.Exec(t, "alter table todos disable row level security")
		code, stderr := runServeBriefly(t, serveFlags(off.URL(pgtest.App), jwks))
		if code != 1 || !strings.Contains(stderr, "row level security is disabled on todos") {
			t.Errorf("exit %d; stderr:\n%s", code, stderr)
		}
	})
}

// runServeBriefly runs the command line and, should it start serving after
// all, stops it after a few seconds so the test fails instead of hanging.
func runServeBriefly(t *testing.T, args []string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, &stdout, &stderr)
	return code, stderr.String()
}

func dropRole(t *testing.T, db *pgtest.DB, name string) {
	conn, err := pgx.Connect(context.Background(), db.URL(db.Superuser()))
	if err != nil {
		t.Logf("drop role %s: %v", name, err)
		return
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), "drop role if exists "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Logf("drop role %s: %v", name, err)
	}
}

// TestServeGracefulShutdown starts the real serve, holds a POST in flight
// (headers and half its body sent), and cancels serve's context as SIGTERM
// does. The listener closes at once (new connections are refused), a
// /readyz that was already connecting is not answered ready, the in-flight
// POST is then completed and answered 201 with its todo stored, and serve
// returns nil.
func TestServeGracefulShutdown(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	dir, jwks := devJWKS(t)
	token := mintWithCLI(t, dir, "shutdown-user", serveIssuer, serveAudience)
	logs := &lockedBuffer{}
	cfg := serveConfig{
		DatabaseURL: db.URL(pgtest.App), ListenAddr: "127.0.0.1:0", JWKSFile: jwks,
		Issuer: serveIssuer, Audience: serveAudience, ClockSkew: 30 * time.Second,
		LogFormat: "json", LogLevel: "info", RequestTimeout: 10 * time.Second,
		StatementTimeout: 5 * time.Second, ShutdownTimeout: 20 * time.Second,
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrc, errc := make(chan string, 1), make(chan error, 1)
	go func() { errc <- serve(ctx, cfg, newLogger(logs, "json", "info"), func(a string) { addrc <- a }) }()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-errc:
		t.Fatalf("serve: %v\n%s", err, logs)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start")
	}
	waitReady(t, addr)

	// A request whose first line is on its way: the server has accepted
	// the connection but not read a request from it.
	late := dial(t, addr)
	write(t, late, "GET /readyz HTTP/1.1\r\nHost: rowgate\r\n")

	// A POST in flight: headers sent, the handler running (it asked for
	// the body: 100 Continue), half the body sent.
	body := `{"title":"finished during shutdown"}`
	inflight := dial(t, addr)
	inflightR := bufio.NewReader(inflight)
	write(t, inflight, fmt.Sprintf("POST /v1/todos HTTP/1.1\r\nHost: rowgate\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", token, len(body)))
	if res, err := http.ReadResponse(inflightR, nil); err != nil || res.StatusCode != 100 {
		t.Fatalf("want 100 Continue: %v %v", res, err)
	}
	write(t, inflight, body[:10])

	cancel() // what SIGTERM does
	waitRefused(t, addr)

	// Once shutdown has begun nothing may report ready. (With serve as it
	// is, net/http drops a request whose headers complete after Shutdown
	// starts, so the 503 /readyz would give cannot be observed over the
	// network at all: see the report. A 503 is accepted here; a 200 or any
	// other answer is not.)
	write(t, late, "\r\n")
	if res, err := http.ReadResponse(bufio.NewReader(late), nil); err == nil {
		got, _ := io.ReadAll(res.Body)
		if res.StatusCode != 503 || !bytes.Contains(got, []byte(`"code":"not_ready"`)) {
			t.Errorf("/readyz during shutdown: %d %s", res.StatusCode, got)
		}
	} else if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("/readyz during shutdown: %v", err)
	}

	write(t, inflight, body[10:])
	res, err := http.ReadResponse(inflightR, nil)
	if err != nil {
		t.Fatalf("the in-flight POST: %v", err)
	}
	got, _ := io.ReadAll(res.Body)
	if res.StatusCode != 201 || !bytes.Contains(got, []byte("finished during shutdown")) || res.Header.Get("X-Request-Id") == "" {
		t.Errorf("the in-flight POST: %d %s (X-Request-Id %q)", res.StatusCode, got, res.Header.Get("X-Request-Id"))
	}

	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("serve returned %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not return")
	}
	var n int
	err = db.Conn(t, db.Superuser()).QueryRow(context.Background(),
		`select count(*) from todos where user_id = 'shutdown-user' and title = 'finished during shutdown'`).Scan(&n)
	if err != nil || n != 1 {
		t.Errorf("the in-flight todo is stored %d times (%v)", n, err)
	}
	for _, msg := range []string{"shutting down: finishing in-flight requests", `"msg":"stopped"`} {
		if !strings.Contains(logs.String(), msg) {
			t.Errorf("the log lacks %q:\n%s", msg, logs)
		}
	}
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	t.Cleanup(func() { conn.Close() })
	return conn
}

func write(t *testing.T, conn net.Conn, s string) {
	t.Helper()
	if _, err := io.WriteString(conn, s); err != nil {
		t.Fatal(err)
	}
}

// waitReady polls /readyz until it answers 200: serve listens at once and
// opens the database door in the background.
func waitReady(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz not 200 after 30s: %v %v", res, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitRefused waits until a new connection to addr is refused.
func waitRefused(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if errors.Is(err, syscall.ECONNREFUSED) {
			return
		}
		if err == nil {
			conn.Close()
		}
		if time.Now().After(deadline) {
			t.Fatalf("new connections are still accepted (%v)", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
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

// TestServeConfigFailsClosed runs `rowgate serve` with one required setting
// missing or contradictory at a time: each is a usage error (exit 2) that
// names it, and nothing is contacted.
func TestServeConfigFailsClosed(t *testing.T) {
	t.Parallel()
	const url = "postgres://rowgate_app@127.0.0.1:1/nothing" // never dialled
	jwks := filepath.Join(t.TempDir(), "jwks.json")
	tests := []struct {
		name     string
		override []string
		want     string // all of it, split at "|"
		notWant  string
	}{
		{"ErrNoDatabaseURL", []string{"--database-url", ""}, "DATABASE_URL is required", ""},
		{"ErrNoIssuer", []string{"--issuer", ""}, "AUTH_ISSUER is required", ""},
		{"ErrNoAudience", []string{"--audience", ""}, "AUTH_AUDIENCE is required", ""},
		{"ErrNoJWKS", []string{"--jwks-file", ""}, "set exactly one of AUTH_JWKS_URL and AUTH_JWKS_FILE", ""},
		{"ErrBothJWKS", []string{"--jwks-url", "https://auth.test/jwks"}, "set exactly one of AUTH_JWKS_URL and AUTH_JWKS_FILE", ""},
		{"ErrLogFormat", []string{"--log-format", "xml"}, "LOG_FORMAT must be json or text", ""},
		{"ErrLogLevel", []string{"--log-level", "loud"}, "LOG_LEVEL must be", ""},
		{"ErrEverythingAtOnce", []string{"--database-url", "", "--issuer", "", "--audience", "", "--jwks-file", ""},
			"DATABASE_URL is required|set exactly one of AUTH_JWKS_URL and AUTH_JWKS_FILE|AUTH_ISSUER is required|AUTH_AUDIENCE is required", ""},
		{"ErrOptOutStillNeedsTheRest", []string{"--issuer", "", "--allow-any-issuer", "--audience", "", "--allow-any-audience", "--database-url", ""},
			"DATABASE_URL is required", "AUTH_ISSUER"},
		{"ErrNegativeRateLimit", []string{"--rate-limit-rps", "-1"}, "RATE_LIMIT_RPS must be", ""},
		{"ErrInfiniteAnonRateLimit", []string{"--rate-limit-anon-rps", "+Inf"}, "RATE_LIMIT_ANON_RPS must be", ""},
		{"ErrNegativeBurst", []string{"--rate-limit-burst", "-5"}, "RATE_LIMIT_BURST must be 0 or more", ""},
		{"ErrTrustedProxies", []string{"--trusted-proxies", "10.0.0.0/8,not-an-address"}, "TRUSTED_PROXIES", ""},
		{"ErrUnknownFlag", []string{"--no-such-flag"}, "flag provided but not defined", ""},
		{"ErrStrayArgument", []string{"extra"}, "unexpected argument", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), serveFlags(url, jwks, tt.override...), &stdout, &stderr)
			ok := code == 2 && (tt.notWant == "" || !strings.Contains(stderr.String(), tt.notWant))
			for _, w := range strings.Split(tt.want, "|") {
				ok = ok && strings.Contains(stderr.String(), w)
			}
			if !ok {
				t.Errorf("exit %d, stderr %q; want exit 2 with %q", code, stderr.String(), tt.want)
			}
		})
	}
}

// TestServeConfigFromEnvironment reads the settings from the environment
// only (not parallel: it sets variables). With none set, serve refuses to
// start and lists every missing one; a malformed value is named.
func TestServeConfigFromEnvironment(t *testing.T) {
	for _, v := range []string{"DATABASE_URL", "AUTH_JWKS_URL", "AUTH_JWKS_FILE", "AUTH_ISSUER", "AUTH_AUDIENCE",
		"AUTH_ALLOW_ANY_ISSUER", "AUTH_ALLOW_ANY_AUDIENCE", "LOG_FORMAT", "LOG_LEVEL", "AUTH_CLOCK_SKEW", "REQUEST_TIMEOUT"} {
		t.Setenv(v, "")
	}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"serve"}, &stdout, &stderr)
	for _, want := range []string{"DATABASE_URL", "AUTH_JWKS_URL and AUTH_JWKS_FILE", "AUTH_ISSUER", "AUTH_AUDIENCE"} {
		if code != 2 || !strings.Contains(stderr.String(), want) {
			t.Errorf("no settings: exit %d, stderr %q; want 2 naming %s", code, stderr.String(), want)
		}
	}
	t.Setenv("AUTH_CLOCK_SKEW", "soon")
	t.Setenv("AUTH_ALLOW_ANY_ISSUER", "maybe")
	stderr.Reset()
	code = run(context.Background(), []string{"serve"}, &stdout, &stderr)
	for _, want := range []string{`AUTH_CLOCK_SKEW="soon" is not a duration`, `AUTH_ALLOW_ANY_ISSUER="maybe" is not a boolean`} {
		if code != 2 || !strings.Contains(stderr.String(), want) {
			t.Errorf("bad values: exit %d, stderr %q; want 2 naming %s", code, stderr.String(), want)
		}
	}
}
